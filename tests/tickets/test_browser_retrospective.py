"""An emergency change's retrospective CAB review, seat by seat, in a real browser: the agenda and
the ticket page say how many seats are still needed until the tier's quorum has approved."""

import pytest

from changemgmt.tickets import services
from tests.factories import FeatureFactory, TicketFactory, UserFactory
from tests.web.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def person(username, role):
    return UserFactory(username=username, roles=[role])  # with browser.PASSWORD


def test_it_needs_the_tiers_quorum_for_the_retrospective(page, live_server):
    base = live_server.url
    feature = FeatureFactory(slug="support-assistant", risk_tier="medium", customer_facing=False)
    ticket = TicketFactory(
        feature=feature,
        emergency=True,
        emergency_justification="Jailbreak public on Friday 17:00; the prompt closes it.",
    )
    services.ticket_transition(
        ticket,
        "emergency_approve",
        acting_user=person("exec_approver", "exec_approver"),
        reason="the jailbreak is public",
    )
    person("cab_platform", "cab_platform")
    person("cab_feature", "cab_feature")

    for voter, after in (
        ("cab_platform", "still needs 1 of 2 seats: cab_feature"),
        ("cab_feature", "The retrospective CAB review is complete."),
    ):
        log_in(page, base, voter)
        page.goto(f"{base}/tickets/cab/")
        row = page.locator("#retrospective-due li", has_text=ticket.change_id)
        assert "still needs" in row.inner_text()
        row.locator("a:has-text('Retrospective review')").click()
        assert "Still needs" in page.inner_text("#retrospective-seats")
        for box in page.locator("#checklist input[type=checkbox]").all():
            box.check()
        page.check("input[name=decision][value=approve]")
        page.click("button:has-text('Cast vote')")
        page.wait_for_url(f"{base}/tickets/{ticket.change_id}/")
        assert after in page.content()
        page.click("nav button:has-text('Log out')")

    ticket.refresh_from_db()
    assert not ticket.retrospective_due
