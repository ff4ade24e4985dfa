"""One schedule path: the plain `schedule` transition saves the slot's end with the planned start in
one save; the ticket page, the window picker and the API all book through `ticket_schedule` (one
record, one warning); the pages name the active WindowPolicy's rule and zone instead of hard-coded
text."""

import pytest
from django.contrib.messages import get_messages
from rest_framework.authtoken.models import Token

from changemgmt.tickets import services as ticket_services
from changemgmt.windows.models import WindowPolicy
from tests.windows.factories import make_approved, ny

pytestmark = pytest.mark.django_db


def test_a_plain_schedule_saves_the_slot_end_with_the_start_in_one_history_row(
    window_policy, at, author, release_manager
):
    ticket = make_approved(author, release_manager)
    rows = ticket.history.count()
    with at(ny(2027, 2, 1, 9)):
        ticket_services.ticket_transition(
            ticket, "schedule", acting_user=release_manager, planned_start=ny(2027, 2, 10, 11)
        )
    ticket.refresh_from_db()
    assert ticket.slot_ends_at == ny(2027, 2, 10, 16)
    assert ticket.history.count() == rows + 1
    assert ticket.history.first().slot_ends_at == ny(2027, 2, 10, 16)


def test_the_ticket_page_names_the_active_policys_window_and_zone(
    client, at, author, release_manager
):
    WindowPolicy.objects.create(
        name="Berlin window", timezone="Europe/Berlin", weekdays=[0, 1], active=True
    )
    ticket = make_approved(author, release_manager)
    client.force_login(release_manager)
    page = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert "Inside a standard release window (Mon/Tue 10:00–16:00 Europe/Berlin)" in page
    assert "Tue–Thu" not in page


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_ticket_page_books_through_the_same_service_as_the_picker(
    client, window_policy, at, author, release_manager
):
    """The same booking record and the same bridge-clash warning, from either form."""
    first, second = make_approved(author, release_manager), make_approved(author, release_manager)
    with at(ny(2027, 2, 8, 9)):
        client.force_login(release_manager)  # sessions expire in traveled time
        picked = client.post(
            f"/calendar/schedule/{first.change_id}/", {"slot": ny(2027, 2, 9, 10).isoformat()}
        )
        typed = client.post(
            f"/tickets/{second.change_id}/transition/schedule/",
            {"planned_start": "2027-02-09T12:00"},
        )
    assert picked.status_code == typed.status_code == 302
    for ticket, when in ((first, "Tue 2027-02-09 10:00 EST"), (second, "Tue 2027-02-09 12:00 EST")):
        ticket.refresh_from_db()
        assert ticket.state == "scheduled" and ticket.slot_ends_at == ny(2027, 2, 9, 16)
        assert ticket.history.first().history_change_reason == f"schedule: booked {when}"
    assert any(m.startswith("Bridge clash: release_manager is already") for m in said(typed))


def test_the_api_books_through_the_same_service(client, window_policy, at, author, release_manager):
    ticket = make_approved(author, release_manager)
    token = Token.objects.create(user=release_manager)
    with at(ny(2027, 2, 8, 9)):
        answer = client.post(
            f"/api/v1/changes/{ticket.change_id}/schedule/",
            {"planned_start": "2027-02-10T15:00:00Z"},
            HTTP_AUTHORIZATION=f"Token {token.key}",
        )
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "scheduled"
    ticket.refresh_from_db()
    assert ticket.slot_ends_at == ny(2027, 2, 10, 16)
    assert (
        ticket.history.first().history_change_reason == "schedule: booked Wed 2027-02-10 10:00 EST"
    )


def test_the_emergency_doctrine_names_the_active_policys_window(client, auditor):
    WindowPolicy.objects.create(
        name="Berlin window", timezone="Europe/Berlin", weekdays=[0, 1], active=True
    )
    client.force_login(auditor)
    body = client.get("/doctrine/emergency/").content.decode()
    assert "next standard window (Mon/Tue 10:00–16:00 Europe/Berlin)" in body
