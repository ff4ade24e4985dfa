"""The database going away mid-request: the API answers JSON 503 with Retry-After, pages a short
"try again" page, and a session whose save failed for that reason is not a 400. The real outage
is drilled in tests/drills/test_postgres_restart.py."""

import pytest
from django.contrib.sessions.exceptions import SessionInterrupted
from django.db import OperationalError
from django.db.backends import utils as db_utils
from django.test import Client, RequestFactory
from rest_framework.authtoken.models import Token

from changemgmt.web import errors

pytestmark = pytest.mark.django_db


@pytest.fixture
def database_down(monkeypatch):
    """From now on every SQL statement fails as with PostgreSQL stopped."""

    def gone(self, sql, params=None):
        raise OperationalError("server closed the connection unexpectedly")

    def down():
        monkeypatch.setattr(db_utils.CursorWrapper, "execute", gone)

    return down


def test_it_answers_the_api_with_json_503_and_retry_after(author, database_down):
    client = Client(
        raise_request_exception=False,
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=author).key}",
    )
    database_down()
    response = client.get("/api/v1/changes/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == str(errors.RETRY_AFTER_SECONDS)
    assert response.json() == {"detail": errors.UNAVAILABLE, "retry_after": 5}


def test_it_answers_a_page_with_a_short_try_again_page(author, database_down):
    client = Client(raise_request_exception=False)
    client.force_login(author)
    database_down()
    response = client.get("/tickets/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "try again in a moment" in page
    assert "nothing was saved" in page
    assert len(page) < 1000


def test_it_keeps_other_server_errors_500_and_json_on_the_api(monkeypatch):
    request = RequestFactory().get("/api/v1/changes/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = errors.server_error(request)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert not response.has_header("Retry-After")
    page = RequestFactory().get("/tickets/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = errors.server_error(page)
    assert response.status_code == 500
    assert b"Something went wrong" in response.content


def test_it_answers_503_not_400_when_a_session_save_failed_with_the_database():
    request = RequestFactory().get("/tickets/")
    try:
        try:
            raise OperationalError("terminating connection due to administrator command")
        except OperationalError:
            raise SessionInterrupted("deleted before it completed")  # noqa: B904  (as Django does)
    except SessionInterrupted as exc:
        interrupted_by_outage = exc
    assert errors.bad_request(request, interrupted_by_outage).status_code == 503
    # A session really deleted meanwhile (a logout in another tab) stays Django's 400.
    assert errors.bad_request(request, SessionInterrupted("deleted")).status_code == 400
