"""Issue 16.2: after promotion to 10% the dashboard shows the current stage and says what the
next promotion waits for; empty charts say so; a pause in the samples breaks the line."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from changemgmt.rollouts.sweeper import advance_all
from changemgmt.tickets.services import ticket_transition
from tests.factories import TicketFactory
from tests.rollouts.conftest import feed
from tests.web.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def emergency_ramp(author, release_manager, feature, started):
    # An emergency change promotes at any time, so the test does not depend on today's window.
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        feature=feature,
        users_affected=4_000_000,
        emergency=True,
        emergency_justification="Jailbreak in the wild",
        retrospective_due=True,
        state="scheduled",
    )
    with time_machine.travel(started, tick=False):
        ticket_transition(ticket, "start", acting_user=release_manager)
    return ticket


def test_it_shows_the_current_stage_and_what_the_next_promotion_waits_for(
    live_server, page, author, release_manager, support_assistant
):
    started = timezone.now() - timedelta(minutes=40)
    ticket = emergency_ramp(author, release_manager, support_assistant, started)
    feed(ticket, started + timedelta(minutes=5), n=10)
    feed(ticket, started + timedelta(minutes=30), n=10)  # 25 quiet minutes: a gap in the chart
    assert advance_all(timezone.now()) == [(ticket.change_id, "promoted to 10%")]

    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server.url, "release_manager")
    ramp = page.locator(f'#ramps-dashboard .ramp[data-change-id="{ticket.change_id}"]')
    current = ramp.locator('[data-status="current"]')
    assert current.inner_text() == "10%"
    assert current.is_visible() and current.bounding_box()["width"] > 40
    assert "ramp-stage-current" in current.get_attribute("class")
    assert ramp.locator('[data-status="done"]').inner_text() == "1%"
    assert ramp.locator('[data-status="ahead"]').all_inner_texts() == ["50%", "100%"]
    assert "Now at 10% (stage 2 of 4)" in ramp.locator(".ramp-now").inner_text()
    next_line = ramp.locator(".ramp-next").inner_text()
    assert "Next: 50% at" in next_line and "at the earliest, waiting for:" in next_line
    waiting = ramp.locator(".ramp-waiting li").all_inner_texts()
    assert any(w.startswith("Bake:") for w in waiting)
    assert any("Samples:" in w and "0/20" in w for w in waiting)
    screenshot(page, "dashboard-ramp-at-10.png")

    # The ticket list's stage column agrees.
    page.goto(f"{live_server.url}/tickets/")
    row = page.locator("tbody tr", has_text=ticket.change_id)
    assert row.locator(".ticket-stage").inner_text() == "10%"

    # The ticket page's chart data breaks the line over the quiet 25 minutes.
    page.goto(f"{live_server.url}/tickets/{ticket.change_id}/")
    charts = json.loads(page.locator("#ramp-chart-data").text_content())
    drift = next(c for c in charts if c["metric"] == "eval_score_drift")
    assert [p["y"] for p in drift["points"]].count(None) == 1
    assert page.locator("canvas#chart-eval_score_drift").is_visible()


def test_an_empty_chart_says_no_data_yet(
    live_server, page, author, release_manager, support_assistant
):
    ticket = emergency_ramp(author, release_manager, support_assistant, timezone.now())
    log_in(page, live_server.url, "release_manager")
    page.goto(f"{live_server.url}/tickets/{ticket.change_id}/")
    empty = page.locator("#ramp-charts .chart-empty")
    assert empty.count() == 4
    assert "No data yet" in empty.first.inner_text()
    assert page.locator("#ramp-charts canvas").count() == 0
