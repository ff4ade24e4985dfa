"""An admin saves a freeze over a booked slot; the release manager sees the clash on the ticket
page and the dashboard, in a real browser, and has been told."""

import pytest
import time_machine

from changemgmt.audit.models import Notification
from changemgmt.windows import services
from tests.windows.factories import make_approved, ny

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-0"  # tests.factories.UserFactory's


def log_in(page, base, username, path="/accounts/login/", then="/"):
    page.goto(f"{base}{path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"{base}{then}")


def test_it_shows_and_notifies_a_freeze_saved_over_a_booked_slot(
    page, live_server, root, author, release_manager
):
    base = live_server.url
    with time_machine.travel(ny(2027, 2, 8, 9), tick=False):
        ticket = make_approved(author, release_manager)
        services.ticket_schedule(
            ticket, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10)
        )

        log_in(page, base, "root", "/admin/login/?next=/admin/", "/admin/")
        page.goto(f"{base}/admin/windows/freeze/add/")
        page.fill("#id_name", "Q1 close")
        page.fill("#id_starts_at_0", "2027-02-10")
        page.fill("#id_starts_at_1", "00:00")
        page.fill("#id_ends_at_0", "2027-02-11")
        page.fill("#id_ends_at_1", "00:00")
        page.fill("#id_reason", "Quarter-end financial close")
        page.click("input[name=_save]")
        page.wait_for_url(f"{base}/admin/windows/freeze/")
        page.context.clear_cookies()

        log_in(page, base, "release_manager")
        clashes = page.locator("#freeze-clashes")
        assert ticket.change_id in clashes.inner_text() and "Q1 close" in clashes.inner_text()
        clashes.locator(f"a:has-text('{ticket.change_id}')").click()
        page.wait_for_url(f"{base}/tickets/{ticket.change_id}/")
        clash = page.locator("#windows-panel .freeze-clash").inner_text()
        assert "cannot start at its booked Wed 2027-02-10 10:00 EST" in clash
        assert "move the slot outside the freeze" in clash
        assert "a freeze covers the whole booked slot" in page.inner_text("#next-allowed-start")

    notice = Notification.objects.get(event="freeze.clash")
    assert notice.ticket_id == ticket.pk and notice.recipients == [release_manager.email]
