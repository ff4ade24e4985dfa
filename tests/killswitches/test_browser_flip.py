import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROW = 'tbody[id="switch-model:openai.gpt-4o-2024-11"]'


def log_in(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "platform_team")
    page.fill("input[name=password]", "pw-for-tests-0")
    page.click("button[type=submit], input[type=submit]")


def test_it_flips_a_switch_inline_in_the_console_and_the_yaml_changes(
    live_server, page, platform_team, switches
):
    log_in(page, live_server)
    page.goto(f"{live_server.url}/kill-switches/")
    version = page.inner_text("#policy-version")
    row = page.locator(ROW)
    row.get_by_role("link", name="Engage").click()
    # The form opens inside the row (htmx): no page change, the blast radius in front of the user.
    expect(row.locator(".blast-radius")).to_contain_text(
        "stops all new traffic to openai.gpt-4o-2024-11"
    )
    assert page.url.endswith("/kill-switches/")
    row.locator(".confirm-flip").click()  # no reason: refused inline, nothing flipped
    expect(row.locator(".field-error")).to_contain_text("This field is required")
    expect(row.locator("tr[data-switch]")).to_contain_text("AI on")
    row.locator("input[name=reason]").fill("GPT-4o outage; route everything to Claude Sonnet")
    row.locator(".confirm-flip").click()
    expect(row.locator("tr[data-switch]")).to_contain_text("engaged — AI off")
    expect(row.locator(".flip-done")).to_contain_text("openai.gpt-4o-2024-11")
    expect(page.locator("#policy-version")).not_to_have_text(version)
    assert page.url.endswith("/kill-switches/")
    page.goto(f"{live_server.url}/gateway-policies/kill-switches.yaml")
    text = page.inner_text("body")
    assert "- model: openai.gpt-4o-2024-11\n    disabled: true" in text


def test_it_cancels_the_inline_form_without_flipping(live_server, page, platform_team, switches):
    log_in(page, live_server)
    page.goto(f"{live_server.url}/kill-switches/")
    row = page.locator(ROW)
    row.get_by_role("link", name="Engage").click()
    expect(row.locator(".flip-inline")).to_be_visible()
    row.get_by_role("button", name="Cancel").click()
    expect(row.locator(".flip-inline")).to_have_count(0)
    expect(row.locator("tr[data-switch]")).to_contain_text("AI on")
    expect(row.get_by_role("link", name="Engage")).to_be_visible()


def test_it_flips_on_the_confirm_page_without_javascript(
    live_server, browser, platform_team, switches
):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server)
    page.goto(f"{live_server.url}/kill-switches/")
    page.locator(ROW).get_by_role("link", name="Engage").click()
    assert re.search(r"/kill-switches/model/openai\.gpt-4o-2024-11/flip/$", page.url)
    assert "stops all new traffic" in page.inner_text("#blast-radius")
    page.fill("input[name=reason]", "drill without JS")
    page.click("#confirm-flip")
    assert page.url.endswith("/kill-switches/")
    assert "engaged — AI off" in page.locator(ROW).inner_text()
    context.close()


def test_it_shows_why_an_inline_flip_was_refused(live_server, page, platform_team, switches):
    """The role is taken away while the form is open: the 403's reason shows above the page."""
    log_in(page, live_server)
    page.goto(f"{live_server.url}/kill-switches/")
    row = page.locator(ROW)
    row.get_by_role("link", name="Engage").click()
    row.locator("input[name=reason]").fill("GPT-4o outage")
    from django.contrib.auth.models import Group

    platform_team.groups.set([Group.objects.get_or_create(name="auditor")[0]])  # reads, no flips
    row.locator(".confirm-flip").click()
    expect(page.locator("#htmx-errors")).to_contain_text(
        "Refused (403): Only the platform team may flip a model switch."
    )
    expect(row.locator("tr[data-switch]")).to_contain_text("AI on")


def test_it_sends_the_browser_to_the_login_page_when_the_session_is_gone(
    live_server, page, platform_team, switches
):
    log_in(page, live_server)
    page.goto(f"{live_server.url}/kill-switches/?state=released")
    row = page.locator(ROW)
    row.get_by_role("link", name="Engage").click()
    expect(row.locator(".flip-inline")).to_be_visible()
    page.context.clear_cookies(name="sessionid")  # as the 8-hour limit would end it
    row.get_by_role("button", name="Cancel").click()
    page.wait_for_url("**/accounts/login/**")
    assert page.url.endswith("/accounts/login/?next=/kill-switches/%3Fstate%3Dreleased")
    assert page.locator("input[name=password]").count() == 1
