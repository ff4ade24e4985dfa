"""Issue 16.5: support engineering engages a tenant that has no switch yet, from the console and
the API; an engaged switch says who, when and why; a lifted one does not show its old reason as
current; each switch links to its history."""

import pytest
from playwright.sync_api import expect

from changemgmt.killswitches.models import TenantSwitch
from tests.factories import TenantFactory
from tests.web.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROW = 'tbody[id="switch-tenant:globex"]'


def test_support_eng_engages_a_new_tenant_switch_and_lifts_it(
    live_server, page, support_eng, switches
):
    TenantFactory(tenant_id="globex")
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server.url, "support_eng")
    page.goto(f"{live_server.url}/kill-switches/")
    row = page.locator(ROW)
    expect(row.locator(".switch-state")).to_contain_text("no switch yet")
    row.get_by_role("link", name="Engage").click()
    expect(row.locator(".blast-radius")).to_contain_text("every user of tenant globex")
    row.locator("input[name=reason]").fill("Customer asked to pause AI; ticket SUP-1")
    row.locator(".confirm-flip").click()
    expect(row.locator("tr[data-switch]")).to_contain_text("engaged — AI off")
    switch = TenantSwitch.objects.get(tenant__tenant_id="globex")
    assert switch.ai_disabled and switch.reason == "Customer asked to pause AI; ticket SUP-1"

    page.goto(f"{live_server.url}/kill-switches/")
    engaged_by = row.locator(".switch-engaged-by").inner_text()
    assert "by support_eng" in engaged_by
    assert row.locator(".switch-reason").inner_text() == "Customer asked to pause AI; ticket SUP-1"
    screenshot(page, "console.png")

    row.get_by_role("link", name="Release").click()
    row.locator("input[name=reason]").fill("Customer resumed")
    row.locator(".confirm-flip").click()
    expect(row.locator("tr[data-switch]")).to_contain_text("AI on")
    page.goto(f"{live_server.url}/kill-switches/")
    assert row.locator(".switch-reason").inner_text() == "—"
    assert "SUP-1" not in row.locator("tr[data-switch]").inner_text()
    assert "released by support_eng" in row.locator(".switch-released-by").inner_text()

    row.get_by_role("link", name="History").click()
    page.wait_for_url(f"{live_server.url}/kill-switches/tenant/globex/history/")
    history = page.locator("#switch-history > tbody > tr").all_inner_texts()
    assert len(history) == 2
    assert "released: Customer resumed" in history[0]
    assert "engaged: Customer asked to pause AI; ticket SUP-1" in history[1]


def test_the_api_creates_a_tenant_switch_for_its_owners_only(
    client, support_eng, platform_team, switches
):
    TenantFactory(tenant_id="globex")
    url = "/api/v1/kill-switches/tenant/globex/flip/"
    client.force_login(platform_team)
    refused = client.post(
        url, {"engaged": True, "reason": "not mine"}, content_type="application/json"
    )
    assert refused.status_code == 403
    assert "support engineering" in refused.json()["detail"]
    assert not TenantSwitch.objects.filter(tenant__tenant_id="globex").exists()

    client.force_login(support_eng)
    done = client.post(url, {"engaged": True, "reason": "pause"}, content_type="application/json")
    assert done.status_code == 200, done.content
    assert done.json()["changed"] is True and done.json()["engaged"] is True
    assert TenantSwitch.objects.get(tenant__tenant_id="globex").ai_disabled

    unknown = client.post(
        "/api/v1/kill-switches/tenant/nobody/flip/",
        {"engaged": True, "reason": "x"},
        content_type="application/json",
    )
    assert unknown.status_code == 404
    # Releasing a tenant that never had a switch changes nothing and creates nothing.
    TenantFactory(tenant_id="initech")
    lift = client.post(
        "/api/v1/kill-switches/tenant/initech/flip/",
        {"engaged": False, "reason": "x"},
        content_type="application/json",
    )
    assert lift.status_code == 404
    assert not TenantSwitch.objects.filter(tenant__tenant_id="initech").exists()
