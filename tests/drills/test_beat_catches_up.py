"""Drill: a worker is SIGKILLed in the middle of a tick that *beat* sent, and nobody re-sends it.

Unlike test_worker_killed (which sends the next tick by hand), this runs the real beat with the
production advance-rollouts entry every BEAT seconds (tests/drills/slow_tick_celery.py), every
process on the same moved clock so beat's ticks (which carry no `now`) find the drill's ramps due.
The killed tick's message stays unacked in Redis until the visibility timeout; the job must not
wait for it: the sweeper evaluates "as of now", so the next beat tick on a live worker finishes it
within two beat intervals, and promotes nothing twice.
"""

import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from django.conf import settings

from .conftest import kill_process_group
from .ramp_setup import DUE
from .test_worker_killed import QUEUE, drill_env, ramp_positions, run, start_worker, wait_until

pytestmark = pytest.mark.drill

RAMPS = 8
BEAT = 10.0  # seconds between beat's ticks in the drill (a minute in production)


def start_beat(env, tmp_path):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.drills.slow_tick_celery",
            "beat",
            "-s",
            str(tmp_path / "beat-schedule"),
            "-l",
            "WARNING",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=open(tmp_path / "beat.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_it_finishes_a_killed_beat_tick_on_the_next_beat_tick(tmp_path, throwaway_redis):
    progress = tmp_path / "progress"
    progress.mkdir()
    (tmp_path / "var").mkdir()
    env = drill_env(tmp_path, throwaway_redis)
    run(env, "manage.py", "migrate", "-v0")
    run(env, "manage.py", "seed_demo")
    run(
        env,
        "-c",
        f"import django; django.setup(); from tests.drills.ramp_setup import make; make({RAMPS})",
    )
    db_path = tmp_path / "var" / "db.sqlite3"
    positions, _ = ramp_positions(db_path)
    assert sorted(positions.values()) == [0] * RAMPS
    mine = {str(pk) for pk in positions}

    # Every process's clock: the ramps' due instant, plus the real time since this line.
    shift = (DUE - datetime.now(UTC)).total_seconds()
    moved = dict(
        DRILL_CLOCK_SHIFT_SECONDS=str(shift), DRILL_BEAT_SECONDS=str(BEAT), DRILL_QUEUE=QUEUE
    )
    slow = drill_env(
        tmp_path,
        throwaway_redis,
        DRILL_SLOW_TICK_SECONDS="1.5",
        DRILL_PROGRESS_DIR=str(progress),
        **moved,
    )
    first = start_worker(slow, "first", tmp_path / "first.log")
    beat = start_beat(drill_env(tmp_path, throwaway_redis, **moved), tmp_path)
    second = None
    try:
        try:
            wait_until(
                lambda: sum(f.name.split("-")[-1] in mine for f in progress.iterdir()) >= 3,
                90,
                "the first worker never got into beat's tick: "
                + (tmp_path / "first.log").read_text()
                + (tmp_path / "beat.log").read_text(),
            )
        finally:
            kill_process_group(first, 9)  # SIGKILL mid-sweep: its message stays unacked
        killed_at = time.monotonic()
        positions, promotions = ramp_positions(db_path)
        moved_now = sorted(positions.values())
        assert 0 < moved_now.count(1) < RAMPS, f"the kill did not land mid-tick: {moved_now}"

        second = start_worker(
            drill_env(tmp_path, throwaway_redis, **moved), "second", tmp_path / "second.log"
        )
        wait_until(
            lambda: sorted(ramp_positions(db_path)[0].values()) == [1] * RAMPS,
            2 * BEAT + 30,
            "beat's next ticks did not finish the job: " + (tmp_path / "second.log").read_text(),
        )
        took = time.monotonic() - killed_at
        # Two beat intervals, plus the second worker's own start-up (a few seconds of Django and
        # Celery imports on this shared machine), which a running fleet does not pay.
        assert took <= 2 * BEAT + 15, f"finished {took:.1f}s after the kill"
    finally:
        kill_process_group(beat, 15)
        if second is not None:
            kill_process_group(second, 15)
    positions, promotions = ramp_positions(db_path)
    assert sorted(positions.values()) == [1] * RAMPS  # every ramp at 10%, none at 50%
    assert sorted(promotions.values()) == [1] * RAMPS  # one promotion each, never two
