import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_flips_a_switch_from_the_console_and_the_yaml_changes(
    live_server, page, platform_team, switches
):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "platform_team")
    page.fill("input[name=password]", "pw-for-tests-0")
    page.click("button[type=submit], input[type=submit]")
    page.goto(f"{live_server.url}/kill-switches/")
    page.click('tr[data-switch="model:openai.gpt-4o-2024-11"] >> text=Engage')
    assert "stops all new traffic to openai.gpt-4o-2024-11" in page.inner_text("#blast-radius")
    page.fill("input[name=reason]", "GPT-4o outage; route everything to Claude Sonnet")
    page.click("#confirm-flip")
    assert "engaged (AI off)" in page.content()
    page.goto(f"{live_server.url}/gateway-policies/kill-switches.yaml")
    text = page.inner_text("body")
    assert "- model: openai.gpt-4o-2024-11\n    disabled: true" in text
