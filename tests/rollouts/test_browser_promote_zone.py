"""Issue 16.6: the promote refusal quotes the policy's zone (labelled), as the page does — not
UTC — for a viewer in Europe/Berlin too."""

import pytest
import time_machine

from tests.rollouts.conftest import WEDNESDAY_10
from tests.web.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "timezone_id": "Europe/Berlin"}


def test_the_promote_refusal_is_in_the_policy_zone(
    page, live_server, ramping_ticket, release_manager
):
    with time_machine.travel(WEDNESDAY_10.replace(minute=10), tick=True):
        log_in(page, live_server.url, "release_manager")
        page.goto(f"{live_server.url}/tickets/{ramping_ticket.change_id}/")
        page.locator("#ramp-controls").get_by_role("button", name="Promote now").click()
        page.wait_for_load_state()
        body = page.locator("main").inner_text()
    assert "bakes until Wed 2027-02-10 10:30 EST (America/New_York" in body
    assert "UTC (" not in body
