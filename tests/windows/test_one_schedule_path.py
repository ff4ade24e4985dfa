"""One schedule path: the plain `schedule` transition (ticket page, API) saves the slot's end with
the planned start in one save, as the window picker does; the ticket page names the active
WindowPolicy's rule and zone instead of hard-coded text."""

import pytest

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
