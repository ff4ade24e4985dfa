"""Issue 16.8, in the browser: booking a 15:30 slot is accepted with a warning that the 30-minute
first stage cannot finish before the 16:00 close, and the ticket page shows the whole ramp's
projected timeline against the calendar."""

import pytest
import time_machine

from tests.factories import TicketFactory
from tests.rollouts.conftest import ny
from tests.web.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_late_slot_warns_and_the_ticket_page_projects_the_ramp(
    live_server, page, author, release_manager, support_assistant, window_policy
):
    base = live_server.url
    with time_machine.travel(ny(2027, 2, 8, 9), tick=False):
        ticket = TicketFactory(
            author=author,
            release_manager=release_manager,
            feature=support_assistant,
            users_affected=4_000_000,
            max_traffic_percent=50,
            regions=["AU", "CA", "EU", "US"],
            state="approved",
        )
        page.set_viewport_size({"width": 1400, "height": 900})
        log_in(page, base, "release_manager")
        page.goto(f"{base}/tickets/{ticket.change_id}/")
        page.fill("#id_planned_start_local", "2027-02-10T15:30")
        page.click("#free-slot button")
        page.locator(".alert-success", has_text="scheduled").wait_for()

        # Accepted, with the warning beside the confirmation.
        flash = page.locator(".alert-warning", has_text="cannot finish inside this slot").first
        assert "The first stage (1%, 30 min bake)" in flash.inner_text()
        assert "10% waits until Thu 2027-02-11 10:00 EST" in flash.inner_text()

        projection = page.locator("#ramp-projection")
        assert projection.is_visible()
        assert (
            "cannot finish inside this slot"
            in projection.locator(".projection-warning").inner_text()
        )
        assert (
            "Reaches 100% Tue 2027-02-16 10:00 EST"
            in projection.locator("#projection-summary").inner_text()
        )
        rows = projection.locator("#projection-table tbody tr")
        assert rows.count() == 4
        first = rows.nth(0).locator("td").all_inner_texts()
        assert first[:3] == ["1%", "Wed 2027-02-10 15:30 EST", "30 min"]
        assert first[4:] == ["Thu 2027-02-11 10:00 EST", "the next window"]
        assert rows.nth(3).locator("td").all_inner_texts()[4] == "deployed"

        # The strip: seven days (Wed to Tue), window hours shaded on Wed, Thu and Tue, a lane
        # per stage, and the waits drawn after the 1% and 50% bakes.
        strip = projection.locator(".projection-strip")
        assert strip.locator(".projection-day").all_inner_texts()[0] == "Wed 10 Feb"
        assert strip.locator(".projection-day").count() == 7
        assert strip.locator(".projection-window").count() == 3
        assert strip.locator(".projection-lane").count() == 4
        assert strip.locator(".projection-wait").count() == 2
        assert strip.bounding_box()["width"] > 800
        projection.scroll_into_view_if_needed()
        screenshot(page, "ticket-projected-timeline.png")
