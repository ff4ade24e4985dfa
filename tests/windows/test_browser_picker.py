"""A release manager books a slot from the picker on the ticket page, in a real browser."""

import pytest
import time_machine

from changemgmt.tickets.models import ChangeTicket
from tests.windows.factories import make_approved, make_freeze, ny

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-0"  # tests.factories.UserFactory's


def test_it_books_a_slot_and_shows_a_refused_slots_reason(
    page, live_server, author, release_manager
):
    base = live_server.url
    # Monday 2027-02-08 09:00 New York: the picker offers Tue/Wed/Thu; Thursday is frozen.
    with time_machine.travel(ny(2027, 2, 8, 9), tick=False):
        ticket = make_approved(author, release_manager)
        make_freeze(
            "Company event",
            ny(2027, 2, 11, 0),
            ny(2027, 2, 11, 18),
            reason="The on-call population is at the all-hands.",
        )
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "release_manager")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")

        page.goto(f"{base}/tickets/{ticket.change_id}/")
        picker = page.locator("#slot-picker")
        assert picker.locator("button", has_text="Thu 2027-02-11").count() == 0

        # A refused slot, typed into the free input: the reason comes back on the ticket page.
        page.fill("#id_planned_start_local", "2027-02-11T11:00")
        page.click("#free-slot button")
        alert = page.locator(".alert-danger", has_text="Not scheduled")
        alert.wait_for()
        assert "inside freeze 'Company event' until 2027-02-11 18:00 EST" in alert.inner_text()
        assert ChangeTicket.objects.get(pk=ticket.pk).state == "approved"

        # A slot from the picker.
        page.locator("#slot-picker button", has_text="Wed 2027-02-10 10:00 EST").click()
        page.locator(".alert-success", has_text="scheduled").wait_for()
        panel = page.locator("#windows-panel")
        assert "Booked slot: Wed 2027-02-10 10:00 EST" in panel.inner_text()
        assert "Next allowed start: Wed 2027-02-10 10:00 EST" in panel.inner_text()

    ticket.refresh_from_db()
    assert ticket.state == "scheduled" and ticket.planned_start == ny(2027, 2, 10, 10)
