"""The Celery app for the worker-kill drill, with each ticket of a tick slowed down so the test
can kill the worker in the middle of a sweep. DRILL_PROGRESS_DIR gets one file per ticket done."""

import os
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changemgmt.settings")
# DRILL_CLOCK_SHIFT_SECONDS moves this process's clock (ticking) by the same offset in the beat and
# every worker, so beat's own ticks (which carry no `now`) reach the drill's ramps in a window,
# and the `expires` beat stamps on each tick means the same instant to the workers.
if os.environ.get("DRILL_CLOCK_SHIFT_SECONDS"):
    from datetime import datetime, timedelta

    import time_machine

    _shift = timedelta(seconds=float(os.environ["DRILL_CLOCK_SHIFT_SECONDS"]))
    time_machine.travel(datetime.now().astimezone() + _shift, tick=True).start()
django.setup()

# celery -A tests.drills.slow_tick_celery; importing tasks registers advance_rollouts.
from changemgmt.celery import app  # noqa: E402,F401,I001
from changemgmt.rollouts import sweeper, tasks  # noqa: E402,F401

# DRILL_BEAT_SECONDS: beat sends the production advance-rollouts entry every N seconds instead of
# every minute (same task, same `expires` rule: a little under one interval), on the drill's queue.
if os.environ.get("DRILL_BEAT_SECONDS"):
    _every = float(os.environ["DRILL_BEAT_SECONDS"])
    _entry = dict(app.conf.beat_schedule["advance-rollouts"])
    _entry.update(
        schedule=_every,
        options={"expires": _every - 1, "queue": os.environ.get("DRILL_QUEUE", "celery")},
    )
    app.conf.beat_schedule = {"advance-rollouts": _entry}

_rollout_advance = sweeper.rollout_advance
SLOW = float(os.environ.get("DRILL_SLOW_TICK_SECONDS", "0"))


def _slow_rollout_advance(ticket_id, now):
    outcome = _rollout_advance(ticket_id, now)
    progress = os.environ.get("DRILL_PROGRESS_DIR")
    if progress:
        Path(progress, f"{os.getpid()}-{ticket_id}").write_text(str(outcome))
    time.sleep(SLOW)  # after the commit: the kill lands between two tickets' transactions
    return outcome


sweeper.rollout_advance = _slow_rollout_advance
