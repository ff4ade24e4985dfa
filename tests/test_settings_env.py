"""Settings read from the environment refuse a value they do not understand, naming the variable,
instead of reading a typo as "off" (env_bool) or failing with a bare ValueError (env_int)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from changemgmt.settings import env_bool, env_int

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " yes ", "on"])
def test_it_reads_the_yes_words_as_true(monkeypatch, value):
    monkeypatch.setenv("SOME_FLAG", value)
    assert env_bool("SOME_FLAG") is True


@pytest.mark.parametrize("value", ["0", "false", "No", "off", ""])
def test_it_reads_the_no_words_as_false(monkeypatch, value):
    monkeypatch.setenv("SOME_FLAG", value)
    assert env_bool("SOME_FLAG", default=True) is False


def test_it_uses_the_default_when_the_variable_is_unset(monkeypatch):
    monkeypatch.delenv("SOME_FLAG", raising=False)
    assert env_bool("SOME_FLAG", default=True) is True
    assert env_bool("SOME_FLAG") is False


def test_it_refuses_a_yes_no_value_it_does_not_know(monkeypatch):
    monkeypatch.setenv("SECURE_SSL_REDIRECT", "ture")
    with pytest.raises(ImproperlyConfigured, match=r"SECURE_SSL_REDIRECT='ture' is not a yes/no"):
        env_bool("SECURE_SSL_REDIRECT", default=True)


def test_it_reads_a_whole_number_or_the_default(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", " 2525 ")
    assert env_int("EMAIL_PORT", 25) == 2525
    monkeypatch.delenv("EMAIL_PORT")
    assert env_int("EMAIL_PORT", 25) == 25


def test_it_refuses_a_number_that_is_not_one_naming_the_variable(monkeypatch):
    monkeypatch.setenv("EMAIL_TIMEOUT", "10s")
    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_TIMEOUT='10s' is not a whole number"):
        env_int("EMAIL_TIMEOUT", 10)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AXES_ENABLED", "ture", "AXES_ENABLED='ture' is not a yes/no value"),
        ("SESSION_IDLE_SECONDS", "half an hour", "SESSION_IDLE_SECONDS='half an hour' is not a"),
    ],
)
def test_the_app_does_not_start_with_a_setting_it_cannot_read(variable, value, message):
    env = {**os.environ, variable: value, "DJANGO_SETTINGS_MODULE": "changemgmt.settings"}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert message in done.stderr
