"""The benchmark's own world: a fresh PostgreSQL database, Redis DB 15, gunicorn on a free port.

Nothing here touches another database or Redis DB: `changemgmt_bench` is dropped and created,
Redis DB 15 is flushed, and everything started is stopped by its process group at the end.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
BENCH_DB = "changemgmt_bench"
REDIS_URL = "redis://127.0.0.1:6379/15"
PASSWORD = "bench-pass-1"
HOST = "127.0.0.1"


def bench_environ(var_dir: str) -> dict:
    """The settings of every bench process (see changemgmt/settings.py for the variables)."""
    return {
        "DATABASE_URL": f"{PG_SERVER}/{BENCH_DB}",
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": "changemgmt-bench",
        "DJANGO_ENV": "development",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "CHANGEMGMT_VAR_DIR": var_dir,
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "ERROR",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "DEMO_PASSWORD": PASSWORD,
        "DJANGO_SETTINGS_MODULE": "changemgmt.settings",
    }


# Two `make bench` runs at once would drop each other's database mid-run: the first one holds
# this advisory lock (on the maintenance database) until it ends; the second waits for it.
BENCH_LOCK_KEY = 0x6368676D62656E63  # "chgmbenc"


class BenchLock:
    def __init__(self, log):
        self.log = log
        self.conn = None

    def __enter__(self):
        import psycopg

        self.conn = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)
        got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", [BENCH_LOCK_KEY]).fetchone()[0]
        if not got:
            self.log("another benchmark run holds the bench lock: waiting for it to finish …")
            self.conn.execute("SELECT pg_advisory_lock(%s)", [BENCH_LOCK_KEY])
        return self

    def __exit__(self, *exc):
        self.conn.close()  # closing the session releases the lock


def recreate_database():
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database():
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def flush_redis_db15():
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(
        self, environ: dict, workers: int, threads: int, log_path: Path, app="changemgmt.wsgi"
    ):
        self.port = free_port()
        self.cmd = [
            str(VENV_BIN / "gunicorn"),
            app,
            "--bind",
            f"{HOST}:{self.port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "120",
        ]
        self.log = open(log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env={**os.environ, **environ},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() kills master and workers
        )

    def wait_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                status, _, _ = request("GET", self.port, "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz in time")

    def pids(self) -> list[int]:
        """The master and its workers (the process tree whose CPU a request costs)."""
        return [self.proc.pid, *self.worker_pids()]

    def worker_pids(self) -> list[int]:
        import psutil

        try:
            return [child.pid for child in psutil.Process(self.proc.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()


def request(method, port, path, *, headers=None, body=None, conn=None, timeout=60):
    """One HTTP request; returns (status, headers dict lower-cased, body bytes)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=timeout)
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        found = {k.lower(): v for k, v in response.getheaders()}
        found["set-cookie"] = response.msg.get_all("Set-Cookie") or []
        return response.status, found, data
    finally:
        if own:
            conn.close()


def login_session(port, username) -> str:
    """Log in through /accounts/login/ like a browser; returns the Cookie header to send."""
    status, headers, body = request("GET", port, "/accounts/login/")
    if status != 200:
        raise RuntimeError(f"login page answered {status}")
    csrf_cookie = dict(_set_cookies(headers))["csrftoken"]
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    form = urllib.parse.urlencode(
        {
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": match.group(1).decode() if match else csrf_cookie,
        }
    )
    status, headers, _ = request(
        "POST",
        port,
        "/accounts/login/",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
            "Referer": f"http://{HOST}:{port}/accounts/login/",
        },
        body=form,
    )
    session = SimpleCookie()
    for name, value in _set_cookies(headers):
        session[name] = value
    if status != 302 or "sessionid" not in session:
        raise RuntimeError(f"login as {username} failed ({status})")
    return f"csrftoken={csrf_cookie}; sessionid={session['sessionid'].value}"


def _set_cookies(headers):
    found = []
    for header in headers.get("set-cookie", []):
        found += [(name, morsel.value) for name, morsel in SimpleCookie(header).items()]
    return found


def make_var_dir() -> str:
    return tempfile.mkdtemp(prefix="changemgmt-bench-")


def python() -> str:
    return str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
