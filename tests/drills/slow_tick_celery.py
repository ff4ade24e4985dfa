"""The Celery app for the worker-kill drill, with each ticket of a tick slowed down so the test
can kill the worker in the middle of a sweep. DRILL_PROGRESS_DIR gets one file per ticket done."""

import os
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changemgmt.settings")
django.setup()

# celery -A tests.drills.slow_tick_celery; importing tasks registers advance_rollouts.
from changemgmt.celery import app  # noqa: E402,F401,I001
from changemgmt.rollouts import sweeper, tasks  # noqa: E402,F401

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
