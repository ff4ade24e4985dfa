"""What the full chain does for nothing on a poll costs nothing (issue 17.2): no message storage
for a request that shows none, and one connection check per request instead of two."""

import subprocess
import sys

import pytest
from django.conf import settings

from changemgmt.web import middleware

pytestmark = pytest.mark.django_db

JSON_URL = "/api/v1/gateway-policy"


@pytest.fixture
def storages_built(monkeypatch):
    built = []
    real = middleware.default_storage

    def counting(request):
        built.append(request.path)
        return real(request)

    monkeypatch.setattr(middleware, "default_storage", counting)
    return built


def test_it_builds_no_message_storage_for_a_poll(client, gateway_token, switches, storages_built):
    response = client.get(JSON_URL, HTTP_AUTHORIZATION=f"Token {gateway_token}")
    assert response.status_code == 200
    assert storages_built == []


def test_it_still_shows_a_flips_message_on_the_page_after_the_redirect(
    client, feature_switch, feature_owner, storages_built
):
    client.force_login(feature_owner)
    response = client.post(
        "/kill-switches/feature/policy-search-v1/flip/",
        {"engage": "1", "reason": "INC-77"},
        follow=True,
    )
    assert response.status_code == 200
    assert "feature:policy-search-v1" in str(list(response.context["messages"])[0])
    assert "alert-success" in response.content.decode()
    # Shown once: the next page has nothing left to show.
    assert "alert-success" not in client.get("/kill-switches/").content.decode()


CONNECTION_CHECKS = """
import django
django.setup()
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
def has(signal):
    return any(r is close_old_connections for r in signal._live_receivers(None)[0])
print(has(request_started), has(request_finished))
"""


def test_it_checks_the_database_connections_once_per_request_at_its_end():
    done = subprocess.run(
        [sys.executable, "-c", CONNECTION_CHECKS],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
