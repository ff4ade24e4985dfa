"""A browser watches a ramp progress on the dashboard: the sweeper runs between page loads."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from changemgmt.rollouts.sweeper import advance_all
from changemgmt.tickets.services import ticket_transition
from tests.factories import TicketFactory
from tests.rollouts.conftest import feed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_shows_the_ramp_moving_on_the_dashboard(
    live_server, page, author, release_manager, support_assistant
):
    # An emergency change promotes at any time, so the test does not depend on today's window.
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        feature=support_assistant,
        users_affected=4_000_000,
        emergency=True,
        emergency_justification="Jailbreak in the wild",
        retrospective_due=True,
        state="scheduled",
    )
    started = timezone.now() - timedelta(minutes=40)
    with time_machine.travel(started, tick=False):
        ticket_transition(ticket, "start", acting_user=release_manager)
    feed(ticket, started + timedelta(minutes=5))

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "release_manager")
    page.fill("input[name=password]", "pw-for-tests-0")
    page.click("button[type=submit], input[type=submit]")
    page.goto(f"{live_server.url}/")
    ramp = page.locator(f'#ramps-dashboard .ramp[data-change-id="{ticket.change_id}"]')
    assert ramp.locator(".ramp-percent").inner_text() == "1%"
    assert ramp.locator('[data-status="done"]').count() == 0

    assert advance_all(timezone.now()) == [(ticket.change_id, "promoted to 10%")]

    page.reload()
    assert ramp.locator(".ramp-percent").inner_text() == "10%"
    assert ramp.locator('[data-status="done"]').count() == 1
    assert ramp.locator('[data-status="current"]').inner_text() == "10%"
