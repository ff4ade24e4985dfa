"""Issue 16.7: acknowledging a breach takes a note, and the note is what the ramp panel and the
timeline show afterwards — a blank note is refused in place, with the reason."""

import pytest
import time_machine

from changemgmt.rollouts.models import Breach
from tests.rollouts.conftest import feed, ny, tick
from tests.web.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOTE = "Retriever deploy 4411 returned empty contexts; reverted at 10:15."


def test_a_release_manager_acknowledges_a_breach_with_a_note(
    page, live_server, ramping_ticket, release_manager
):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10), n=1, error_rate=0.031)
    tick(ny(2027, 2, 10, 10, 11))
    breach = Breach.objects.get()
    with time_machine.travel(ny(2027, 2, 10, 10, 20), tick=True):
        log_in(page, live_server.url, "release_manager")
        page.goto(f"{live_server.url}/tickets/{ramping_ticket.change_id}/")
        breaches = page.locator("#ramp-breaches")
        assert "unacknowledged" not in breaches.inner_text()  # the release manager sees the form
        breaches.get_by_label("Note on the breach").fill("   ")
        breaches.get_by_role("button", name="Acknowledge").click()
        page.wait_for_load_state()
        assert "Acknowledge refused: Note: Say what you found" in page.locator("main").inner_text()
        breach.refresh_from_db()
        assert breach.acknowledged_at is None

        page.locator("#ramp-breaches").get_by_label("Note on the breach").fill(NOTE)
        page.locator("#ramp-breaches").get_by_role("button", name="Acknowledge").click()
        page.wait_for_load_state()
        panel = page.locator("#ramp-breaches").inner_text()
        timeline = page.locator("#ticket-timeline").inner_text()
        screenshot(page, "ticket-breach-acknowledged.png")
    # The page shows times in UTC (its header says so): 10:20 EST is 15:20.
    assert f"acknowledged by release_manager 15:20: {NOTE}" in panel
    assert NOTE in timeline
    breach.refresh_from_db()
    assert breach.acknowledged_by == release_manager and breach.acknowledgement_note == NOTE
