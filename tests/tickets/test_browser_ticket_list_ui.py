"""Issue 16.9 on the ticket list: sortable columns, planned start and stage columns, the
emergency filter readable, and the navigation collapsing at phone width."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.factories import TicketFactory
from tests.web.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_sorts_by_a_column_and_shows_planned_start_and_stage(
    page, live_server, author, release_manager
):
    TicketFactory(author=author, title="Bravo", state="draft")
    TicketFactory(
        author=author,
        title="Alpha",
        state="scheduled",
        planned_start=datetime(2027, 2, 10, 15, 0, tzinfo=UTC),
    )
    TicketFactory(author=author, title="Charlie", state="draft")
    log_in(page, live_server.url, "release_manager")
    page.goto(f"{live_server.url}/tickets/")
    titles = page.locator("tbody tr td:nth-child(2)")
    assert titles.all_inner_texts() == ["Charlie", "Alpha", "Bravo"]  # newest first

    # Each click loads a new page: wait for it (expect retries) before reading the rows.
    page.get_by_role("link", name="Title").click()
    expect(titles).to_have_text(["Alpha", "Bravo", "Charlie"])
    page.get_by_role("link", name="Title").click()
    expect(titles).to_have_text(["Charlie", "Bravo", "Alpha"])

    headers = page.locator("thead th").all_inner_texts()
    assert "Planned start" in " ".join(headers) and "Stage" in " ".join(headers)
    alpha = page.locator("tbody tr", has_text="Alpha")
    assert "Feb 10" in alpha.locator(".ticket-planned-start").inner_text()

    # Filtering keeps the sort: the hidden `o` rides along with the filter form.
    page.select_option("#id_emergency", "false")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"o=-title"))
    expect(titles).to_have_text(["Charlie", "Bravo", "Alpha"])


def test_the_emergency_filter_reads_whole(page, live_server, release_manager):
    log_in(page, live_server.url, "release_manager")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/tickets/")
    assert page.locator("label[for=id_emergency]").inner_text() == "Emergency"
    select = page.locator("#id_emergency")
    assert select.locator("option:checked").inner_text() == "Either"
    # The chosen option fits its box (nothing cut off).
    fits = select.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert fits


def test_the_navigation_collapses_at_phone_width(page, live_server, release_manager):
    log_in(page, live_server.url, "release_manager")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/tickets/")
    calendar_link = page.locator("#main-nav").get_by_role("link", name="Calendar")
    assert not calendar_link.is_visible()
    page.get_by_role("button", name="Toggle navigation").click()
    calendar_link.wait_for(state="visible")
    calendar_link.click()
    page.wait_for_url(f"{live_server.url}/calendar/")
