"""The `change_id` path converter: the web and API routes take only a change ID, so a malformed one
is a 404 before any view runs (JSON on the API), and a real one routes and reverses unchanged."""

import pytest
from django.urls import resolve, reverse

from tests.factories import TicketFactory
from tests.tickets.api_payloads import client_for

pytestmark = pytest.mark.django_db

MALFORMED = ("CHG-26-00001", "chg-2026-00001", "CHG-2026-1", "CHG-2026-00001x", "42")


@pytest.mark.parametrize("change_id", MALFORMED)
def test_a_malformed_change_id_routes_nowhere(client, author, change_id):
    client.force_login(author)
    assert client.get(f"/tickets/{change_id}/").status_code == 404
    assert client.post(f"/ramps/{change_id}/control/halt/", {"reason": "x"}).status_code == 404
    answer = client_for(author).get(f"/api/v1/changes/{change_id}/")
    assert answer.status_code == 404 and answer.json() == {"detail": "Not found."}


def test_a_change_id_routes_and_reverses_unchanged(client, author):
    ticket = TicketFactory(author=author)
    url = reverse("tickets:detail", args=[ticket.change_id])
    assert url == f"/tickets/{ticket.change_id}/"
    assert resolve(url).kwargs == {"change_id": ticket.change_id}
    client.force_login(author)
    assert client.get(url).status_code == 200
    assert client_for(author).get(f"/api/v1/changes/{ticket.change_id}/").status_code == 200
