"""Issue 16.9 and 16.10 on the game-day pages: sortable columns, and a canary slice out of range
refused with the allowed range stated."""

from datetime import date

import pytest

from changemgmt.killswitches.models import Exercise, GameDay
from tests.web.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_states_the_allowed_range_for_a_500_percent_slice(
    page, live_server, feature_switch, platform_team
):
    day = GameDay.objects.create(quarter="2026-Q4", scheduled_for=date(2026, 11, 11))
    log_in(page, live_server.url, "platform_team")
    page.goto(f"{live_server.url}/kill-switches/game-days/{day.pk}/")
    assert "at most 10%" in page.locator("#canary-range").inner_text()
    row = page.locator('tr[data-switch="feature:policy-search-v1"]')
    row.locator("input[name=canary_slice]").fill("500%")
    row.get_by_role("button", name="Flip on canary").click()
    errors = page.locator("#errors").inner_text()
    assert "500% is out of range" in errors
    assert "more than 0% and at most 10%" in errors
    assert not Exercise.objects.exists()


def test_it_sorts_the_game_days_by_a_column_header(page, live_server, platform_team):
    GameDay.objects.create(quarter="2026-Q3", scheduled_for=date(2026, 8, 12))
    GameDay.objects.create(quarter="2026-Q4", scheduled_for=date(2026, 11, 11))
    GameDay.objects.create(quarter="2027-Q1", scheduled_for=date(2027, 2, 10))
    log_in(page, live_server.url, "platform_team")
    page.goto(f"{live_server.url}/kill-switches/game-days/")
    quarters = page.locator("tbody tr td:first-child a")
    assert quarters.all_inner_texts() == ["2027-Q1", "2026-Q4", "2026-Q3"]  # newest first
    page.get_by_role("link", name="Quarter").click()
    assert quarters.all_inner_texts() == ["2026-Q3", "2026-Q4", "2027-Q1"]
    assert page.locator('th[data-sort="quarter"]').get_attribute("aria-sort") == "ascending"
    page.get_by_role("link", name="Quarter").click()
    assert quarters.all_inner_texts() == ["2027-Q1", "2026-Q4", "2026-Q3"]
    assert page.locator('th[data-sort="quarter"]').get_attribute("aria-sort") == "descending"
