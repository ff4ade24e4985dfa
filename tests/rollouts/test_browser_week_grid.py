"""Issue 16.8, in the browser: the calendar's week is an hourly grid (days by hours, window hours
shaded, freezes marked) with booked slots and active ramps as bars; a ramp that runs past its
slot is drawn to its projected end."""

import pytest
import time_machine

from tests.factories import FeatureFactory, TicketFactory
from tests.rollouts.conftest import feed, ny, start, tick
from tests.web.browser import log_in, screenshot
from tests.windows.factories import make_freeze

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fraction_down(day_box, y) -> float:
    return (y - day_box["y"]) / day_box["height"]


def test_the_week_is_an_hourly_grid_with_slots_freezes_and_ramps(
    live_server, page, scheduled_ticket, release_manager
):
    ramp = start(scheduled_ticket, release_manager)  # Wed 2027-02-10 10:00 New York
    feed(ramp, ny(2027, 2, 10, 10, 5))
    assert tick(ny(2027, 2, 10, 10, 30)) == [(ramp.change_id, "promoted to 10%")]
    booked = TicketFactory(
        feature=FeatureFactory(slug="policy-search-v1", risk_tier="low"),
        state="scheduled",
        planned_start=ny(2027, 2, 11, 11),
    )
    make_freeze("Company all-hands", ny(2027, 2, 12, 9), ny(2027, 2, 12, 17))

    with time_machine.travel(ny(2027, 2, 10, 15), tick=False):
        page.set_viewport_size({"width": 1400, "height": 1000})
        log_in(page, live_server.url, "release_manager")
        page.goto(f"{live_server.url}/calendar/?view=week&date=2027-02-10")
        grid = page.locator("#week-grid")
        assert grid.locator(".week-grid-dayname").all_inner_texts() == [
            "Mon 8 Feb", "Tue 9 Feb", "Wed 10 Feb", "Thu 11 Feb", "Fri 12 Feb", "Sat 13 Feb",
            "Sun 14 Feb",
        ]  # fmt: skip
        assert grid.locator(".week-grid-hour").count() == 24
        day = {
            d: grid.locator(f'.week-grid-day[data-date="2027-02-{d:02d}"]') for d in range(8, 15)
        }

        # Window hours shaded 10:00–16:00 on Tue/Wed/Thu only.
        assert [day[d].locator(".week-grid-window").count() for d in range(8, 15)] == [
            0, 1, 1, 1, 0, 0, 0,
        ]  # fmt: skip
        wed = day[10].bounding_box()
        shade = day[10].locator(".week-grid-window").bounding_box()
        assert fraction_down(wed, shade["y"]) == pytest.approx(10 / 24, abs=0.01)
        assert fraction_down(wed, shade["y"] + shade["height"]) == pytest.approx(16 / 24, abs=0.01)

        # The freeze is marked on Friday 09:00–17:00.
        freeze = day[12].locator(".week-grid-freeze")
        assert "Freeze: Company all-hands" in freeze.inner_text()
        fri = day[12].bounding_box()
        assert fraction_down(fri, freeze.bounding_box()["y"]) == pytest.approx(9 / 24, abs=0.01)

        # The running ramp's booked slot (Wed 10:00–16:00) and the ramp itself side by side; the
        # ramp goes on past midnight to its projected end, 100% on Thu 15:00.
        slot = day[10].locator(".week-grid-change", has_text=ramp.change_id)
        assert slot.locator(".week-grid-bar-time").inner_text() == "10:00–16:00"
        bar = day[10].locator(".week-grid-ramp", has_text=ramp.change_id)
        assert bar.locator(".week-grid-bar-time").inner_text() == "10:00–…"
        assert "at 10%" in bar.inner_text()
        assert bar.bounding_box()["x"] != slot.bounding_box()["x"]  # not on top of each other
        bar_box = bar.bounding_box()
        assert fraction_down(wed, bar_box["y"] + bar_box["height"]) == pytest.approx(1, abs=0.01)
        thursday = day[11].locator(".week-grid-ramp", has_text=ramp.change_id)
        assert thursday.locator(".week-grid-bar-time").inner_text() == "…–15:00"
        thu = day[11].bounding_box()
        end = thursday.bounding_box()
        assert fraction_down(thu, end["y"] + end["height"]) == pytest.approx(15 / 24, abs=0.01)
        assert day[12].locator(".week-grid-ramp").count() == 0

        # Another change's booked slot: Thursday 11:00 to the window's close.
        other = day[11].locator(".week-grid-change", has_text=booked.change_id)
        assert other.locator(".week-grid-bar-time").inner_text() == "11:00–16:00"
        assert other.get_attribute("href") == f"/tickets/{booked.change_id}/"
        screenshot(page, "calendar-week-grid.png")
