"""django-axes locks a username (from one address) after AXES_FAILURE_LIMIT failed logins."""

import pytest
from django.conf import settings as django_settings
from django.test import Client

PASSWORD = "pw-for-tests-0"  # tests.factories.UserFactory


@pytest.fixture
def axes_on(settings):
    settings.AXES_ENABLED = True  # the shared conftest turns it off for every other test
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_RESET_ON_SUCCESS = True
    return settings


def login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_it_locks_the_account_after_the_failure_limit(axes_on, author):
    client = Client()
    for _ in range(axes_on.AXES_FAILURE_LIMIT - 1):
        response = login(client, "author", "wrong")
        assert response.status_code == 200  # the form again, with its error
    response = login(client, "author", "wrong")
    assert response.status_code == 429
    # Locked now: even the right password is refused, and no session is opened.
    response = login(client, "author", PASSWORD)
    assert response.status_code == 429
    assert (
        django_settings.SESSION_COOKIE_NAME not in response.cookies
        or not response.cookies[django_settings.SESSION_COOKIE_NAME].value
    )
    assert client.get("/").status_code == 302


def test_it_does_not_lock_another_user_out(axes_on, author, release_manager):
    client = Client()
    for _ in range(axes_on.AXES_FAILURE_LIMIT):
        login(client, "author", "wrong")
    response = login(client, "release_manager", PASSWORD)
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_it_forgives_failures_below_the_limit_after_a_success(axes_on, author):
    client = Client()
    for _ in range(axes_on.AXES_FAILURE_LIMIT - 1):
        login(client, "author", "wrong")
    assert login(client, "author", PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(axes_on.AXES_FAILURE_LIMIT - 1):
        assert login(client, "author", "wrong").status_code == 200
    assert login(client, "author", PASSWORD).status_code == 302


def test_it_throttles_the_api_token_endpoint_too(axes_on, author, release_manager):
    """Guessing a password through the token endpoint is locked out like the login form."""
    client = Client()
    for _ in range(axes_on.AXES_FAILURE_LIMIT):
        client.post("/api/v1/auth/token/", {"username": "author", "password": "wrong"})
    locked = client.post("/api/v1/auth/token/", {"username": "author", "password": PASSWORD})
    assert locked.status_code in (400, 403, 429)
    assert "token" not in locked.json()
    # The same right password, for an account with no failures, gets its token.
    fine = client.post("/api/v1/auth/token/", {"username": "release_manager", "password": PASSWORD})
    assert fine.status_code == 200 and fine.json()["token"]
    # And the locked account cannot sign in through the form either.
    assert login(Client(), "author", PASSWORD).status_code == 429


@pytest.mark.parametrize("endpoint", ["/api/v1/auth/token/", "/accounts/login/"])
def test_it_counts_a_username_over_255_characters_instead_of_answering_500(db, axes_on, endpoint):
    # axes stores the attempted name in a 255-character column: PostgreSQL refused the longer one.
    from axes.models import AccessAttempt

    response = Client().post(endpoint, {"username": "u" * 300, "password": "wrong"})
    assert response.status_code in (200, 400)
    assert AccessAttempt.objects.get().username == "u" * 255
