"""Issue 16.6: a browser in Europe/Berlin sees its own zone beside the policy's; game-day times
and the audit log are in it, labelled; the promote refusal speaks the policy's zone, not UTC;
the admin takes freeze times in the policy's zone, labelled."""

from datetime import UTC, date, datetime

import pytest

from changemgmt.killswitches.models import Exercise, GameDay
from tests.web.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "timezone_id": "Europe/Berlin"}


@pytest.fixture
def window_policy(db):
    from changemgmt.windows.models import WindowPolicy

    return WindowPolicy.objects.get_or_create(
        active=True, defaults={"name": "Standard release window", "timezone": "America/New_York"}
    )[0]


def test_the_pages_show_the_viewers_zone_beside_the_policys(
    page, live_server, platform_team, auditor, switches, window_policy
):
    day = GameDay.objects.create(quarter="2026-Q4", scheduled_for=date(2026, 11, 11))
    Exercise.objects.create(
        game_day=day,
        switch_path="feature:policy-search-v1",
        canary_slice="1%",
        performed_by=platform_team,
        flipped_at=datetime(2026, 11, 11, 15, 0, tzinfo=UTC),
    )
    log_in(page, live_server.url, "platform_team")
    page.reload()  # the login page set the tz cookie; every page after it uses the zone
    zones = page.locator("#zones").inner_text()
    assert "times in Europe/Berlin" in zones and "windows in America/New_York" in zones
    page.goto(f"{live_server.url}/kill-switches/game-days/{day.pk}/")
    exercised = page.locator('tr[data-switch="feature:policy-search-v1"]').inner_text()
    assert "flipped Wed 16:00 CET" in exercised  # 15:00 UTC, in Berlin


def test_the_admin_takes_freeze_times_in_the_policy_zone(page, live_server, root, window_policy):
    log_in(page, live_server.url, "root")
    page.goto(f"{live_server.url}/admin/windows/freeze/add/")
    assert page.get_by_text("Starts at (America/New_York)").is_visible()
    assert "Date and time in America/New_York" in page.locator(".field-starts_at").inner_text()
    page.fill("#id_name", "Quarter-end close")
    page.fill("#id_starts_at_0", "2027-03-29")
    page.fill("#id_starts_at_1", "09:00:00")
    page.fill("#id_ends_at_0", "2027-04-02")
    page.fill("#id_ends_at_1", "18:00:00")
    page.fill("#id_reason", "Finance close")
    page.locator("input[name=_save]").click()
    from changemgmt.windows.models import Freeze

    freeze = Freeze.objects.get(name="Quarter-end close")
    assert freeze.starts_at == datetime(2027, 3, 29, 13, 0, tzinfo=UTC)  # 09:00 EDT
