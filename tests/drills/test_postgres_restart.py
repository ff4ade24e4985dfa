"""Drill: PostgreSQL restarts in the middle of a ticket filing.

The app runs under gunicorn against a throwaway cluster (never the shared one on 5432). The filing
pauses after the ticket row is written and before its eval rows (tests/drills/pg_hook_wsgi.py); we
stop PostgreSQL there. The request must end in the clear error page, not a hang or a traceback,
and after the restart there is no half-written ticket and filing works again.
"""

import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from .conftest import free_port, kill_process_group, wait_for_port

pytestmark = pytest.mark.drill

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "drill-password-0"
TITLE = "Drill: filed while PostgreSQL restarts"
# Only the drill's own tickets: seed_demo may file demo tickets of its own.
DRILL_EVAL_ROWS = (
    "SELECT count(*) FROM tickets_evaldelta d JOIN tickets_changeticket t ON t.id = d.ticket_id "
    "WHERE t.title LIKE 'Drill:%'"
)


def as_postgres(*args, **kwargs):
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


class ThrowawayPostgres:
    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="drill-pg-", dir="/tmp"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_port()

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/drill"

    def init(self):
        as_postgres(
            PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def start(self):
        as_postgres(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.root / "log",
            "-w",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        wait_for_port(self.port, up=True)

    def stop(self):
        as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def sql(self, query, database="drill"):
        done = as_postgres(
            PG_BIN.parent / "bin" / "psql",
            "-h",
            "127.0.0.1",
            "-p",
            self.port,
            "-d",
            database,
            "-tAc",
            query,
        )
        return done.stdout.strip()

    def destroy(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def throwaway_postgres():
    if not (PG_BIN / "pg_ctl").exists() or not shutil.which("runuser"):
        pytest.skip("PostgreSQL 15 binaries or runuser not available")
    pg = ThrowawayPostgres()
    pg.init()
    pg.start()
    pg.sql("CREATE DATABASE drill", database="postgres")
    yield pg
    pg.destroy()


@pytest.fixture
def app_on_throwaway_postgres(throwaway_postgres, tmp_path):
    hook = tmp_path / "hook"
    hook.mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DATABASE_URL=throwaway_postgres.url,
        CHANGEMGMT_VAR_DIR=str(tmp_path / "var"),
        DEBUG="0",
        DJANGO_ENV="development",
        ALLOWED_HOSTS="127.0.0.1",
        DEMO_PASSWORD=PASSWORD,
        DRILL_HOOK_DIR=str(hook),
        PYTHONPATH=str(settings.BASE_DIR),
    )
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "-v0"], ["seed_demo"], ["drf_create_token", "author"]):
        done = subprocess.run(
            manage + command,
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    token = re.search(r"([0-9a-f]{40})", done.stdout).group(1)
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "tests.drills.pg_hook_wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--timeout",
            "90",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "gunicorn.log", "w"),  # noqa: SIM115
        start_new_session=True,  # its own process group: we kill exactly what we started
    )
    wait_for_port(port, up=True, timeout=30)
    yield {"base": f"http://127.0.0.1:{port}", "token": token, "hook": hook, "log": tmp_path}
    kill_process_group(server, 15)


def call(base, path, *, token=None, data=None, opener=None, timeout=60, answer_headers=None):
    headers = {"Accept": "application/json"}
    body = None
    if token:
        headers["Authorization"] = f"Token {token}"
    if data is not None:
        body = json.dumps(data).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=body, headers=headers)
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=timeout) as response:
            if answer_headers is not None:
                answer_headers.update(response.headers.items())
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        if answer_headers is not None:
            answer_headers.update(error.headers.items())
        return error.code, error.read().decode()


def signed_in_browser(base):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/accounts/login/", timeout=30).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"username": "author", "password": PASSWORD, "csrfmiddlewaretoken": csrf}
    ).encode()
    opener.open(base + "/accounts/login/", data=form, timeout=30).read()
    assert any(cookie.name == "sessionid" for cookie in jar)
    return opener


def ticket(title):
    return {
        "title": title,
        "summary": "Prompt update for the support assistant",
        "feature": "support-assistant",
        "classification": "prompt",
        "risk_tier": "medium",
        "release_manager": "release_manager",
        "eval_deltas": [{"metric": "groundedness", "baseline": 0.812, "candidate": 0.822}],
        "rollback_plan": "1. Flip feature:support-assistant. 2. Re-pin support-assistant@41.",
        "kill_switch": "feature:support-assistant",
        "blast_radius": {"users_affected": 4000000, "regions": ["US"], "max_traffic_percent": 50},
    }


def test_it_shows_the_error_page_and_keeps_no_half_written_ticket_when_postgres_restarts(
    app_on_throwaway_postgres, throwaway_postgres
):
    app = app_on_throwaway_postgres
    base, token, hook = app["base"], app["token"], app["hook"]
    browser = signed_in_browser(base)
    assert call(base, "/", opener=browser)[0] == 200

    answer = {}

    def file_it():
        answer["headers"] = {}
        answer["status"], answer["body"] = call(
            base,
            "/api/v1/changes/",
            token=token,
            data=ticket(TITLE),
            answer_headers=answer["headers"],
        )

    filing = threading.Thread(target=file_it)
    filing.start()
    deadline = time.monotonic() + 30
    while not (hook / "reached").exists():
        assert time.monotonic() < deadline, "the filing never reached its second part"
        time.sleep(0.05)

    throwaway_postgres.stop()  # the ticket row is written, its transaction still open
    (hook / "release").touch()
    filing.join(timeout=60)
    assert not filing.is_alive(), "the request hung after PostgreSQL went away"
    # The API answers JSON 503 with Retry-After (issue 12.7): try again, nothing was saved.
    assert answer["status"] == 503, answer["body"][:500]
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["headers"]["Retry-After"] == "5"
    assert "nothing was saved" in json.loads(answer["body"])["detail"]
    assert "Traceback" not in answer["body"]

    # While the database is down, a page answers with a short "try again" page, quickly.
    started = time.monotonic()
    headers = {}
    status, body = call(base, "/tickets/", opener=browser, answer_headers=headers)
    assert status == 503 and "Something went wrong" in body
    assert "try again in a moment" in body and "nothing was saved" in body
    assert headers["Retry-After"] == "5"
    assert time.monotonic() - started < 15

    throwaway_postgres.start()
    assert (
        throwaway_postgres.sql(f"SELECT count(*) FROM tickets_changeticket WHERE title = '{TITLE}'")
        == "0"
    )
    assert (
        throwaway_postgres.sql(
            f"SELECT count(*) FROM tickets_historicalchangeticket WHERE title = '{TITLE}'"
        )
        == "0"
    )
    assert throwaway_postgres.sql(DRILL_EVAL_ROWS) == "0"

    # The app reconnects by itself: the same session reads pages, and filing works again.
    os.remove(hook / "reached")
    (hook / "release").touch()  # no pause this time
    assert call(base, "/tickets/", opener=browser)[0] == 200
    status, body = call(base, "/api/v1/changes/", token=token, data=ticket(TITLE + " (retry)"))
    assert status == 201, body[:500]
    assert json.loads(body)["change_id"].startswith("CHG-")
    assert throwaway_postgres.sql(DRILL_EVAL_ROWS) == "1"
