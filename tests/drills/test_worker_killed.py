"""Drill: a Celery worker is killed (SIGKILL) in the middle of an `advance_rollouts` tick.

Everything runs in subprocesses against the drill's own SQLite file and its own Redis: a worker
whose sweep is slowed per ticket (tests/drills/slow_tick_celery.py) takes a tick over 8 due
ramps; we kill -9 it after a few tickets, start a second worker, send the next tick, and check
every ramp moved exactly one stage — finished, and nothing promoted twice.
"""

import os
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings

from .conftest import kill_process_group
from .ramp_setup import DUE, TITLE_PREFIX

pytestmark = pytest.mark.drill

RAMPS = 8
QUEUE = "drill-advance"


def drill_env(tmp_path, redis, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        CHANGEMGMT_VAR_DIR=str(tmp_path / "var"),
        REDIS_URL=redis.url,
        DEMO_PASSWORD="drill-password-0",
        PYTHONPATH=str(settings.BASE_DIR),
        DJANGO_SETTINGS_MODULE="changemgmt.settings",
        **extra,
    )
    return env


def run(env, *args):
    done = subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-3000:]
    return done.stdout


def start_worker(env, name, log):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.drills.slow_tick_celery",
            "worker",
            "-P",
            "solo",
            "-Q",
            QUEUE,
            "-n",
            f"{name}@drill",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=open(log, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed by id, never by name
    )


def send_tick(env, now):
    run(
        env,
        "-c",
        "import django; django.setup(); "
        "from changemgmt.rollouts.tasks import advance_rollouts; "
        f"advance_rollouts.apply_async(kwargs={{'now': '{now.isoformat()}'}}, queue='{QUEUE}')",
    )


def ramp_positions(db_path):
    with sqlite3.connect(db_path) as db:
        positions = dict(
            db.execute(
                "SELECT r.ticket_id, r.current_index FROM rollouts_ramp r "
                "JOIN tickets_changeticket t ON t.id = r.ticket_id WHERE t.title LIKE ?",
                (f"{TITLE_PREFIX}%",),
            )
        )
        promotions = dict(
            db.execute(
                "SELECT h.id, COUNT(*) FROM tickets_historicalchangeticket h "
                "JOIN tickets_changeticket t ON t.id = h.id "
                "WHERE h.history_change_reason LIKE 'promote%' AND t.title LIKE ? GROUP BY h.id",
                (f"{TITLE_PREFIX}%",),
            )
        )
    return positions, promotions


def wait_until(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def test_it_finishes_the_tick_on_the_next_worker_and_promotes_nothing_twice(
    tmp_path, throwaway_redis
):
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

    slow = drill_env(
        tmp_path, throwaway_redis, DRILL_SLOW_TICK_SECONDS="1.5", DRILL_PROGRESS_DIR=str(progress)
    )
    first = start_worker(slow, "first", tmp_path / "first.log")
    try:
        send_tick(env, DUE)
        mine = {str(pk) for pk in positions}
        wait_until(
            lambda: sum(f.name.split("-")[-1] in mine for f in progress.iterdir()) >= 3,
            60,
            "the first worker never got into the tick: " + (tmp_path / "first.log").read_text(),
        )
    finally:
        kill_process_group(first, 9)  # SIGKILL mid-sweep
    positions, promotions = ramp_positions(db_path)
    moved = sorted(positions.values())
    assert 0 < moved.count(1) < RAMPS, f"the kill did not land mid-tick: {moved}"
    assert set(promotions.values()) == {1}

    second = start_worker(env, "second", tmp_path / "second.log")
    try:
        next_tick = DUE + timedelta(minutes=1)
        send_tick(env, next_tick)
        wait_until(
            lambda: sorted(ramp_positions(db_path)[0].values()) == [1] * RAMPS,
            60,
            "the next tick did not finish the job: " + (tmp_path / "second.log").read_text(),
        )
        # The same tick delivered again (redelivery, a second beat) changes nothing.
        send_tick(env, next_tick)
        send_tick(env, next_tick + timedelta(seconds=20))
        wait_until(
            lambda: (
                run(
                    env,
                    "-c",
                    "import redis,sys; r=redis.Redis.from_url(sys.argv[1]); print(r.llen(sys.argv[2]))",
                    throwaway_redis.url,
                    QUEUE,
                ).strip()
                == "0"
            ),
            30,
            "the second worker did not drain the queue",
        )
    finally:
        kill_process_group(second, 15)
    positions, promotions = ramp_positions(db_path)
    assert sorted(positions.values()) == [1] * RAMPS  # every ramp at 10%, none at 50%
    assert sorted(promotions.values()) == [1] * RAMPS  # one promotion each, never two
