import pytest
from django.contrib.messages import get_messages
from django.template.loader import render_to_string
from django.test import RequestFactory

from changemgmt.tickets.models import ChangeTicket
from changemgmt.windows import panels
from changemgmt.windows.services import ticket_schedule
from tests.windows.factories import make_approved, make_emergency, make_freeze, ny

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("window_policy")]


def render_panel(user, ticket):
    request = RequestFactory().get("/")
    request.user = user
    context = panels.ticket_panel(request, ticket)
    return context, render_to_string("windows/_ticket_panel.html", {"panel": context}, request)


def said(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_offers_open_slots_to_a_release_manager(at, author, release_manager):
    ticket = make_approved(author, release_manager)
    make_freeze("Company event", ny(2027, 2, 10, 9), ny(2027, 2, 10, 18))
    with at(ny(2027, 2, 8, 9)):
        context, html = render_panel(release_manager, ticket)
    labels = [s["start"]["local"] for s in context["slots"]]
    assert labels[:3] == [
        "Tue 2027-02-09 10:00 EST",
        "Thu 2027-02-11 10:00 EST",
        "Tue 2027-02-16 10:00 EST",
    ]
    assert len(labels) == 8  # three weeks of Tue/Wed/Thu minus the frozen Wednesday
    assert "Tue 2027-02-09 10:00 EST – 16:00" in html and 'name="planned_start_local"' in html


def test_it_shows_no_picker_to_the_author(at, author, release_manager):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 8, 9)):
        context, html = render_panel(author, ticket)
    assert not context["can_schedule"] and "slot-picker" not in html


def test_it_books_a_slot_from_the_picker(client, at, author, release_manager):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 8, 9)):
        client.force_login(release_manager)  # sessions expire in traveled time
        response = client.post(
            f"/calendar/schedule/{ticket.change_id}/", {"slot": ny(2027, 2, 9, 10).isoformat()}
        )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == "scheduled" and ticket.planned_start == ny(2027, 2, 9, 10)
    assert said(response) == [
        f"{ticket.change_id} scheduled: Tue 2027-02-09 10:00 EST until Tue 2027-02-09 16:00 EST."
    ]


def test_it_reads_the_free_input_in_the_policy_zone_and_explains_a_refusal(
    client, at, author, release_manager
):
    ticket = make_approved(author, release_manager)
    make_freeze("Q4 close", ny(2026, 12, 28), ny(2027, 1, 5, 9), reason="Quarter-end close.")
    with at(ny(2026, 12, 1, 9)):
        client.force_login(release_manager)  # sessions expire in traveled time
        response = client.post(
            f"/calendar/schedule/{ticket.change_id}/", {"planned_start_local": "2026-12-29T11:00"}
        )
    ticket.refresh_from_db()
    assert ticket.state == "approved"
    assert "inside freeze 'Q4 close' until 2027-01-05 09:00 EST" in said(response)[0]


@pytest.mark.parametrize(
    "data", [{}, {"slot": "tomorrow"}, {"planned_start_local": "2027-02-31T10:00"}]
)
def test_it_answers_bad_input_with_a_message_and_saves_nothing(
    client, author, release_manager, data
):
    ticket = make_approved(author, release_manager)
    client.force_login(release_manager)
    response = client.post(f"/calendar/schedule/{ticket.change_id}/", data)
    assert response.status_code == 302
    assert said(response)[0].startswith("Not scheduled:")
    assert ChangeTicket.objects.get(pk=ticket.pk).state == "approved"


def test_it_forbids_scheduling_to_other_roles(client, author, release_manager, outsider):
    ticket = make_approved(author, release_manager)
    for user in (author, outsider):
        client.force_login(user)
        response = client.post(
            f"/calendar/schedule/{ticket.change_id}/", {"slot": ny(2027, 2, 9, 10).isoformat()}
        )
        assert response.status_code == 403
    assert client.get(f"/calendar/schedule/{ticket.change_id}/").status_code == 405


def test_it_shows_the_booked_slot_and_the_next_allowed_start(at, author, release_manager):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 8, 9)):
        ticket, _ = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10)
        )
        context, html = render_panel(release_manager, ticket)
    assert context["next_start"] == "Wed 2027-02-10 10:00 EST"
    assert (
        "Booked slot: <strong>Wed 2027-02-10 10:00 EST</strong> – Wed 2027-02-10 16:00 EST" in html
    )
    with at(ny(2027, 2, 10, 17)):
        context, html = render_panel(release_manager, ticket)
    assert context["next_start"] is None and "The booked slot closed" in html


def test_it_badges_an_emergency_until_the_retrospective(at, author, release_manager, exec_approver):
    ticket = make_emergency(author, release_manager, exec_approver)
    with at(ny(2027, 2, 12, 17)):
        context, html = render_panel(release_manager, ticket)
    assert context["emergency"]
    assert "emergency — retrospective CAB due" in html
    assert "Schedule now (emergency)" in html


def test_it_warns_about_a_bridge_clash_in_the_messages(client, at, author, release_manager):
    first = make_approved(author, release_manager)
    second = make_approved(author, release_manager)
    with at(ny(2027, 2, 8, 9)):
        client.force_login(release_manager)  # sessions expire in traveled time
        ticket_schedule(first, acting_user=release_manager, planned_start=ny(2027, 2, 9, 10))
        response = client.post(
            f"/calendar/schedule/{second.change_id}/", {"slot": ny(2027, 2, 9, 12).isoformat()}
        )
    assert any(m.startswith("Bridge clash: release_manager is already") for m in said(response))
