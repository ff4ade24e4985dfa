"""Issue 16.7 (window item): the CAB ticks "release window is appropriate" looking at the
intended window, or at the next open slots when the ticket is not scheduled yet."""

from datetime import UTC, datetime

import pytest

from tests.factories import TicketFactory
from tests.web.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_window_item_shows_the_next_open_slots_or_the_intended_one(
    page, live_server, author, cab, feature
):
    unscheduled = TicketFactory(author=author, feature=feature, state="submitted")
    intended = TicketFactory(
        author=author,
        feature=feature,
        state="submitted",
        planned_start=datetime(2030, 2, 13, 15, 0, tzinfo=UTC),  # a Wednesday, 10:00 EST
    )
    log_in(page, live_server.url, "cab_platform")
    page.goto(f"{live_server.url}/tickets/{unscheduled.change_id}/review/")
    item = page.locator("#checklist-window").inner_text()
    assert "Not scheduled yet. Next open slots:" in item
    assert "10:00 E" in item and "– 16:00" in item  # slots inside Tue–Thu 10:00–16:00 New York
    assert "Standard window Tue/Wed/Thu 10:00–16:00 America/New_York" in item

    page.goto(f"{live_server.url}/tickets/{intended.change_id}/review/")
    item = page.locator("#checklist-window").inner_text()
    assert "Intended: Wed 2030-02-13 10:00 EST" in item
    assert "(2030-02-13 15:00 UTC)" in item
