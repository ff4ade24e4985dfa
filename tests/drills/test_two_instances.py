"""Drill: two web instances on one database, one of them with Redis unreachable (issue 12.3).

Flips made through the instance without Redis publish nothing to Redis, so the Redis-backed
instance's cache still holds the old version. It must serve the database's version within 1 s
of the flip's answer anyway: no instance serves a version older than the database's for more
than FRESH_SECONDS, whatever Redis does.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from .conftest import free_port, kill_process_group, wait_for_port
from .test_postgres_restart import PASSWORD, throwaway_postgres  # noqa: F401  (a fixture)

pytestmark = pytest.mark.drill

FLIPS = 4
BOUND_SECONDS = 1.0


def manage(env, *command):
    done = subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # migrate and seed_demo on a loaded 2-CPU machine
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def gunicorn(env, log):
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "changemgmt.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115
        start_new_session=True,  # its own process group: we kill exactly what we started
    )
    return process, f"http://127.0.0.1:{port}", port


def call(base, path, token, data=None):
    headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
    body = None
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def two_instances(throwaway_postgres, throwaway_redis, tmp_path):  # noqa: F811
    base_env = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    base_env.update(
        DATABASE_URL=throwaway_postgres.url,
        CHANGEMGMT_VAR_DIR=str(tmp_path / "var"),
        DEBUG="0",
        DJANGO_ENV="development",
        ALLOWED_HOSTS="127.0.0.1",
        DEMO_PASSWORD=PASSWORD,
        PYTHONPATH=str(settings.BASE_DIR),
    )
    manage(base_env, "migrate", "-v0")
    manage(base_env, "seed_demo")
    tokens = {
        name: re.search(r"([0-9a-f]{40})", manage(base_env, "drf_create_token", name)).group(1)
        for name in ("gateway", "platform_team")
    }
    closed_port = free_port()  # nothing listens there: Redis unreachable, refused at once
    without = dict(base_env, REDIS_URL=f"redis://127.0.0.1:{closed_port}/0")
    with_redis = dict(base_env, REDIS_URL=throwaway_redis.url)
    started = [
        gunicorn(without, tmp_path / "without-redis.log"),
        gunicorn(with_redis, tmp_path / "with-redis.log"),
    ]
    try:
        for _, _, port in started:
            wait_for_port(port, up=True, timeout=60)
        yield {"without": started[0][1], "with": started[1][1], "tokens": tokens}
    finally:
        for process, _, _ in started:
            kill_process_group(process, 15)


def test_it_serves_a_flip_made_without_redis_from_the_redis_backed_instance_within_1s(
    two_instances,
):
    without, with_redis = two_instances["without"], two_instances["with"]
    gateway, platform = two_instances["tokens"]["gateway"], two_instances["tokens"]["platform_team"]
    status, doc = call(with_redis, "/api/v1/gateway-policy", gateway)
    assert status == 200, doc
    for _ in range(20):  # warm: Redis and the instance's memory hold the current version
        assert call(with_redis, "/api/v1/gateway-policy", gateway)[0] == 200
    lags = []
    for round_ in range(FLIPS):
        status, flipped = call(
            without,
            "/api/v1/kill-switches/feature/support-assistant/flip/",
            platform,
            {"engaged": round_ % 2 == 0, "reason": f"drill {round_}: flipped without Redis"},
        )
        assert status == 200, flipped
        answered = time.monotonic()
        while True:
            status, doc = call(with_redis, "/api/v1/gateway-policy", gateway)
            assert status == 200, doc
            seen = time.monotonic() - answered
            if doc["version"] >= flipped["version"]:
                break
            assert seen <= 5 * BOUND_SECONDS, (
                f"flip {round_}: v{flipped['version']} still unseen after {seen:.1f}s "
                f"(serving v{doc['version']})"
            )
        lags.append(seen)
    assert max(lags) <= BOUND_SECONDS, [f"{lag:.3f}s" for lag in lags]
    # The instance without Redis serves it too (the database, every time).
    status, doc = call(without, "/api/v1/gateway-policy", gateway)
    assert doc["version"] >= flipped["version"]
