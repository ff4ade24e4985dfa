"""A Medium ticket from the author's form to CAB approval, in a real browser."""

import re

import pytest

from tests.factories import FeatureFactory, UserFactory
from tests.web.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "/tmp/shots"


def person(username, role):
    return UserFactory(username=username, roles=[role])  # with browser.PASSWORD


def log_out(page):
    page.click("nav button:has-text('Log out')")


def test_it_files_submits_and_approves_a_medium_ticket(page, live_server):
    base = live_server.url
    person("author", "author")
    person("release_manager", "release_manager")
    person("cab_platform", "cab_platform")
    person("cab_feature", "cab_feature")
    feature = FeatureFactory(slug="support-assistant", risk_tier="medium", customer_facing=False)
    # The form offers only kill switches that exist: the factory's feature comes with its own.
    assert feature.kill_switch.enabled

    log_in(page, base, "author")
    page.goto(f"{base}/tickets/new/")
    page.fill("#id_title", "Handle the new travel-insurance product line")
    page.fill("#id_summary", "Prompt update for the support assistant")
    page.select_option("#id_feature", label="support-assistant")
    assert "The feature is Medium tier" in page.locator("#field-risk_tier .form-text").inner_text()
    page.select_option("#id_classification", value="prompt")
    page.fill(
        "#id_rollback_plan",
        "1. Flip feature:support-assistant off. 2. Re-pin prompt support-assistant@41. "
        "3. Confirm the eval dashboard returns to baseline.",
    )
    page.select_option("#id_kill_switch", value="feature:support-assistant")
    page.fill("#id_users_affected", "4000000")
    page.check("input[name=regions][value=AU]")
    page.check("input[name=regions][value=US]")
    page.fill("#id_max_traffic_percent", "50")
    page.fill("#id_pr_url", "https://git.example.com/ai/support/pull/812")
    page.fill("#id_prompt_version", "support-assistant@42")
    page.fill("#id_risk_review_ticket", "AIRR-2291")
    page.select_option("#id_release_manager", label="release_manager")
    page.fill("#id_bridge_url", "https://meet.example.com/rel")
    page.fill("#id_bridge", "release_manager")
    page.fill("#id_paging_list", "ai-oncall@example.com")

    # A third eval row, added by the page's own button; the derived delta follows the typing.
    page.click("button:has-text('Add an eval row')")
    page.fill("input[name='evals-2-metric']", "groundedness")
    page.fill("input[name='evals-2-baseline']", "0.812")
    page.fill("input[name='evals-2-candidate']", "0.822")
    assert page.locator("#eval-rows tbody tr").nth(2).locator(".eval-delta").inner_text() == "0.01"
    # The first (empty) row goes away with its remove button.
    page.locator("#eval-rows tbody tr").first.locator("[data-remove-eval-row]").click()
    assert page.locator("#eval-rows tbody tr:visible").count() == 2
    page.screenshot(path=f"{SHOTS}/tickets_form.png", full_page=True)

    # A bad address first: the error shows next to the field, what was typed stays.
    page.fill("#id_paging_list", "ai-oncall@example.com, on-call team")
    page.click("button:has-text('File the ticket')")
    assert "Not an email address: on-call team" in page.inner_text("#id_paging_list-errors")
    assert page.locator("#eval-rows tbody tr:visible").count() == 2
    assert page.input_value("input[name='evals-2-metric']") == "groundedness"
    page.screenshot(path=f"{SHOTS}/tickets_form_errors.png", full_page=True)
    page.fill("#id_paging_list", "ai-oncall@example.com")
    page.click("button:has-text('File the ticket')")

    page.wait_for_url(re.compile(r".*/tickets/CHG-\d{4}-\d{5}/$"))
    change_id = re.search(r"CHG-\d{4}-\d{5}", page.url).group(0)
    assert "filed as a draft" in page.content()
    assert page.locator("#eval-deltas tbody tr").count() == 1
    page.click(".action-submit button[type=submit]")
    page.wait_for_selector("text=is now submitted")
    assert page.locator(".state-badge").first.inner_text().lower() == "submitted"
    log_out(page)

    for voter in ("cab_platform", "cab_feature"):
        log_in(page, base, voter)
        page.goto(f"{base}/tickets/cab/")
        assert page.locator(f".agenda-item[data-change-id='{change_id}']").count() == 1
        if voter == "cab_feature":
            page.screenshot(path=f"{SHOTS}/tickets_cab_agenda.png", full_page=True)
        page.click(f".agenda-item[data-change-id='{change_id}'] a:has-text('Review')")
        for box in page.locator("#checklist input[type=checkbox]").all():
            box.check()
        page.check("input[name=decision][value=approve]")
        if voter == "cab_feature":
            page.screenshot(path=f"{SHOTS}/tickets_review.png", full_page=True)
        page.click("button:has-text('Cast vote')")
        page.wait_for_url(f"{base}/tickets/{change_id}/")
        log_out(page)

    log_in(page, base, "author")
    page.goto(f"{base}/tickets/{change_id}/")
    assert page.locator(".state-badge").first.inner_text().lower() == "approved"
    assert "Approved" in page.locator(".state-badge").first.text_content()
    page.screenshot(path=f"{SHOTS}/tickets_detail_approved.png", full_page=True)
    page.goto(f"{base}/tickets/")
    assert page.locator(f"a:has-text('{change_id}')").count() == 1
    page.screenshot(path=f"{SHOTS}/tickets_list.png", full_page=True)
    page.goto(f"{base}/")
    assert page.locator("#panel-my-drafts").count() == 1
    page.screenshot(path=f"{SHOTS}/tickets_dashboard.png", full_page=True)
