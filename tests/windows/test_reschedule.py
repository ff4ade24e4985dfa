"""Moving a scheduled ticket's slot (its booked slot passed, or the plan changed): the same window
rules as the first booking, and a refused move keeps the old booking."""

import pytest

from changemgmt.tickets import services as ticket_services
from changemgmt.tickets.services import TransitionRefused
from changemgmt.windows.services import ticket_schedule
from tests.windows.factories import make_approved, make_freeze, ny
from tests.windows.test_schedule_picker import render_panel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("window_policy")]


def booked(author, release_manager, at, planned_start=None):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 1, 9)):
        ticket, _ = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=planned_start or ny(2027, 2, 10, 10)
        )
    return ticket


def test_it_moves_the_slot_of_a_ticket_whose_booked_slot_passed(at, author, release_manager):
    ticket = booked(author, release_manager, at)
    with at(ny(2027, 2, 11, 9)):  # the Wednesday slot closed unused
        assert "The booked slot closed Wed 2027-02-10 16:00 EST; move the slot" in " ".join(
            r for _, r in ticket_services.transition_refusals(ticket, "start", release_manager)
        )
        assert "schedule" in ticket_services.available_transitions(ticket, release_manager)
        ticket, _ = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=ny(2027, 2, 16, 11)
        )
    ticket.refresh_from_db()
    assert ticket.state == "scheduled"
    assert (ticket.planned_start, ticket.slot_ends_at) == (ny(2027, 2, 16, 11), ny(2027, 2, 16, 16))
    assert (
        ticket.history.first().history_change_reason == "schedule: booked Tue 2027-02-16 11:00 EST"
    )
    with at(ny(2027, 2, 16, 11, 30)):
        refusals = ticket_services.transition_refusals(ticket, "start", release_manager)
    assert not [r for g, r in refusals if g == "now_is_inside_the_booked_slot"]


def test_it_refuses_a_move_into_a_freeze_and_keeps_the_old_booking(at, author, release_manager):
    ticket = booked(author, release_manager, at)
    make_freeze("Launch week", ny(2027, 2, 15, 0), ny(2027, 2, 20, 0), features=[ticket.feature])
    with at(ny(2027, 2, 11, 9)), pytest.raises(TransitionRefused) as refused:
        ticket_schedule(ticket, acting_user=release_manager, planned_start=ny(2027, 2, 16, 11))
    assert "inside freeze 'Launch week'" in refused.value.message
    ticket.refresh_from_db()
    assert ticket.state == "scheduled"
    assert (ticket.planned_start, ticket.slot_ends_at) == (ny(2027, 2, 10, 10), ny(2027, 2, 10, 16))


def test_it_does_not_count_the_tickets_own_booking_as_a_conflict(at, author, release_manager):
    ticket = booked(author, release_manager, at)
    with at(ny(2027, 2, 1, 9)):
        ticket, _ = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=ny(2027, 2, 10, 13)
        )
    ticket.refresh_from_db()
    assert ticket.planned_start == ny(2027, 2, 10, 13)


def test_it_recomputes_the_slot_end_when_moved_earlier_through_the_plain_transition(
    at, author, release_manager
):
    ticket = booked(author, release_manager, at, planned_start=ny(2027, 2, 11, 10))
    with at(ny(2027, 2, 1, 9)):
        ticket_services.ticket_transition(
            ticket, "schedule", acting_user=release_manager, planned_start=ny(2027, 2, 10, 14)
        )
    ticket.refresh_from_db()
    # Not Thursday's 16:00 left over from the first booking: Wednesday's window closes at 16:00.
    assert (ticket.planned_start, ticket.slot_ends_at) == (ny(2027, 2, 10, 14), ny(2027, 2, 10, 16))


def test_it_offers_the_picker_to_move_a_booked_slot_but_not_to_the_author(
    at, author, release_manager
):
    ticket = booked(author, release_manager, at)
    with at(ny(2027, 2, 11, 9)):
        context, html = render_panel(release_manager, ticket)
        assert context["can_schedule"] and context["slots"]
        assert "Move the slot" in html
        context, html = render_panel(author, ticket)
    assert not context["can_schedule"] and "Move the slot" not in html


def test_it_labels_the_action_move_the_slot_on_the_ticket_page(client, at, author, release_manager):
    ticket = booked(author, release_manager, at)
    with at(ny(2027, 2, 11, 9)):
        client.force_login(release_manager)
        response = client.get(f"/tickets/{ticket.change_id}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "action-schedule" in page
    assert "Move the slot</button>" in page
