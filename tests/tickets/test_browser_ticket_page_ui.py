"""Issue 16.3: the ticket page as an author files one and a release manager reads it — one
release-window card, filing as one timeline entry, the cancel reason with Cancel, a Low-tier
standard change without missing seats, users affected from the feature, only real switches
offered, eval deltas absolute and relative."""

import pytest

from changemgmt.tickets.models import ChangeTicket
from tests.factories import FeatureFactory, TicketFactory
from tests.killswitches.factories import FeatureSwitchFactory
from tests.web.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_files_a_ticket_and_reads_it_back(page, live_server, author, release_manager):
    assistant = FeatureFactory(slug="support-assistant", users_served=4_000_000)
    FeatureSwitchFactory(feature=assistant)
    FeatureFactory(slug="no-switch-feature", users_served=10, switch=False)
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server.url, "author")
    page.goto(f"{live_server.url}/tickets/new/")

    page.select_option("#id_feature", str(assistant.pk))
    assert page.input_value("#id_users_affected") == "4000000"
    offered = page.locator("#id_kill_switch option:not([disabled])").all_inner_texts()
    assert "feature:support-assistant" in offered
    assert not any("no-switch-feature" in option for option in offered)
    assert page.locator('#id_kill_switch option[value="feature:no-switch-feature"]').is_disabled()

    page.fill("#id_title", "Handle the new travel-insurance product line")
    page.fill("#id_summary", "Prompt update for the support assistant")
    page.select_option("#id_classification", "prompt")
    page.select_option("#id_kill_switch", "feature:support-assistant")
    page.get_by_role("button", name="File the ticket").click()
    page.wait_for_url(f"{live_server.url}/tickets/CHG-*/")
    ticket = ChangeTicket.objects.get()
    assert ticket.users_affected == 4_000_000

    assert page.locator(".card-header", has_text="Release window").count() == 1
    assert "not scheduled yet" in page.locator("#planned-start").inner_text()
    entries = page.locator("#ticket-timeline > li")
    assert entries.count() == 1  # filing is one act: ticket, stages, guards and ramp together
    parts = entries.first.locator("details.timeline-parts")
    assert "ramp stage" in parts.locator("summary").inner_text()
    assert "updated_at" not in entries.first.inner_text()

    cancel = page.locator(".action-cancel")
    assert cancel.locator("label").inner_text() == "Reason to cancel (required)"
    assert cancel.locator("textarea").count() == 1 and cancel.locator("button").count() == 1
    assert page.locator(".action-submit textarea").count() == 0


def test_a_standard_change_lists_no_missing_seats_and_deltas_read_relative(
    page, live_server, author, release_manager
):
    search = FeatureFactory(slug="policy-search-v1", risk_tier="low", users_served=250_000)
    ticket = TicketFactory(
        author=author,
        feature=search,
        risk_tier="low",
        state="approved",
        standard_change=True,
        eval_deltas=[("answer_relevance", 0.800, 0.810)],
    )
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server.url, "release_manager")
    page.goto(f"{live_server.url}/tickets/{ticket.change_id}/")
    cab = page.locator("#cab-votes")
    assert "no CAB vote is needed" in cab.inner_text()
    assert "missing" not in cab.inner_text()
    delta = page.locator("#eval-deltas tbody tr").first.locator(".eval-delta-cell").inner_text()
    assert delta == "+0.0100 (+1.3%)"  # 0.010 of 0.800
    screenshot(page, "ticket-page.png")
