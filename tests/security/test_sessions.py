"""Sessions in production: secure, HttpOnly cookies, HSTS, 30 minutes idle, 8 hours absolute."""

import json
import os
import secrets
import string
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import time_machine
from django.conf import settings
from django.test import Client

PRODUCTION_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in [
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
    "SECURE_HSTS_SECONDS", "SESSION_COOKIE_AGE", "SESSION_SAVE_EVERY_REQUEST",
    "SESSION_ABSOLUTE_SECONDS", "SESSION_TOUCH_SECONDS", "SECURE_SSL_REDIRECT", "MIDDLEWARE", "AXES_FAILURE_LIMIT",
    "AXES_ENABLED",
]}))
"""


def production_env():
    key = "".join(
        secrets.choice(string.ascii_letters + string.digits + "!@#%^&*(-_=+)") for _ in range(50)
    )
    env = {
        k: v
        for k, v in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE is the test suite's (Playwright), never production's.
        if k
        not in (
            "DEBUG",
            "SESSION_IDLE_SECONDS",
            "SESSION_ABSOLUTE_SECONDS",
            "AXES_ENABLED",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "DATABASE_URL",
            "REDIS_URL",
        )
    }
    env.update(
        DJANGO_ENV="production",
        SECRET_KEY=key,
        ALLOWED_HOSTS="x",
        DJANGO_SETTINGS_MODULE="changemgmt.settings",
    )
    return env


def run(args, env):
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_secures_the_session_and_csrf_cookies_in_production():
    done = run(["-c", PRODUCTION_SETTINGS], production_env())
    assert done.returncode == 0, done.stderr
    prod = json.loads(done.stdout.strip().splitlines()[-1])
    assert prod["DEBUG"] is False
    assert prod["SESSION_COOKIE_SECURE"] is True
    assert prod["CSRF_COOKIE_SECURE"] is True
    assert prod["SESSION_COOKIE_HTTPONLY"] is True
    assert prod["SECURE_HSTS_SECONDS"] > 0
    assert prod["SESSION_COOKIE_AGE"] == 1800  # 30 minutes idle…
    # …counted from the last request: the session is saved when it changes, and its idle clock
    # moved at most once a minute (a save on every request turned a database blip into a 400).
    assert prod["SESSION_SAVE_EVERY_REQUEST"] is False
    assert prod["SESSION_TOUCH_SECONDS"] == 60
    assert prod["SESSION_ABSOLUTE_SECONDS"] == 8 * 3600
    assert "changemgmt.web.middleware.AbsoluteSessionTimeoutMiddleware" in prod["MIDDLEWARE"]
    assert "axes.middleware.AxesMiddleware" in prod["MIDDLEWARE"]
    assert prod["AXES_ENABLED"] is True


def test_it_passes_the_deployment_checklist_in_production():
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_it_refuses_to_start_in_production_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    done = run(["-c", PRODUCTION_SETTINGS], env)
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


def test_it_marks_the_session_cookie_httponly(db, author):
    client = Client()
    response = client.post("/accounts/login/", {"username": "author", "password": "pw-for-tests-0"})
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE


def test_it_ends_a_session_after_30_idle_minutes(db, author):
    start = datetime(2027, 2, 10, 15, 0, tzinfo=UTC)
    client = Client()
    with time_machine.travel(start, tick=False) as traveller:
        client.force_login(author)
        assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=29))
        assert client.get("/").status_code == 200  # activity resets the idle clock
        traveller.shift(timedelta(minutes=29))
        assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=31))
        response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_ends_a_session_8_hours_after_login_however_active(db, author):
    start = datetime(2027, 2, 10, 13, 0, tzinfo=UTC)
    client = Client()
    with time_machine.travel(start, tick=False) as traveller:
        client.force_login(author)
        assert client.get("/").status_code == 200
        for _ in range(int(8 * 60 / 25)):  # active every 25 minutes: never idle
            traveller.shift(timedelta(minutes=25))
            response = client.get("/")
            assert response.status_code == 200, "logged out before the 8 hours were up"
        traveller.shift(timedelta(minutes=25))  # now past 8 h since login
        response = client.get("/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
        # …and the session is gone, not just this one request refused.
        assert client.get("/").status_code == 302


def test_it_answers_401_or_403_not_a_redirect_when_an_api_session_expires(db, author):
    start = datetime(2027, 2, 10, 13, 0, tzinfo=UTC)
    client = Client()
    with time_machine.travel(start, tick=False) as traveller:
        client.force_login(author)
        assert client.get("/").status_code == 200
        for _ in range(20):
            traveller.shift(timedelta(minutes=25))
            client.get("/")
        response = client.get("/api/schema/")
    assert response.status_code in (401, 403)


def test_it_saves_an_unchanged_session_at_most_once_a_minute(db, author, monkeypatch):
    from django.contrib.sessions.backends.db import SessionStore

    saves = []
    real_save = SessionStore.save

    def counting_save(self, must_create=False):
        saves.append(must_create)
        return real_save(self, must_create=must_create)

    monkeypatch.setattr(SessionStore, "save", counting_save)
    start = datetime(2027, 2, 10, 15, 0, tzinfo=UTC)
    client = Client()
    with time_machine.travel(start, tick=False) as traveller:
        client.force_login(author)
        assert client.get("/").status_code == 200  # the login's start time, then the idle clock
        saves.clear()
        for _ in range(5):
            traveller.shift(timedelta(seconds=10))
            assert client.get("/").status_code == 200
        assert saves == []
        traveller.shift(timedelta(seconds=15))
        assert client.get("/").status_code == 200
        assert saves == [False]


def test_it_answers_try_again_not_400_when_the_idle_clock_cannot_be_saved(db, author, monkeypatch):
    from django.contrib.sessions.backends.base import UpdateError
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import OperationalError

    start = datetime(2027, 2, 10, 15, 0, tzinfo=UTC)
    client = Client(raise_request_exception=False)
    with time_machine.travel(start, tick=False) as traveller:
        client.force_login(author)
        assert client.get("/").status_code == 200
        traveller.shift(timedelta(seconds=30))
        saves = []
        real_save = SessionStore.save

        def failing_save(self, must_create=False):
            saves.append(must_create)
            try:  # as Django's database backend does when the server is gone
                raise OperationalError("server closed the connection unexpectedly")
            except OperationalError:
                raise UpdateError  # noqa: B904

        monkeypatch.setattr(SessionStore, "save", failing_save)
        assert client.get("/").status_code == 200  # nothing to save: the database is not asked
        assert saves == []
        traveller.shift(timedelta(minutes=5))
        response = client.get("/")
        monkeypatch.setattr(SessionStore, "save", real_save)
    assert saves == [False]
    assert response.status_code == 503  # the database went away: not a 400 "session interrupted"
    assert response["Retry-After"] == "5"
