import pytest

from changemgmt.killswitches import policy

pytestmark = pytest.mark.django_db


def test_it_lists_three_tables_with_toggles_for_owners_only(client, switches, support_eng):
    client.force_login(support_eng)
    response = client.get("/kill-switches/")
    assert response.status_code == 200
    page = response.content.decode()
    for table in ("table-feature", "table-model", "table-tenant"):
        assert table in page
    assert "/kill-switches/tenant/enterprise-tenant-12891/flip/" in page
    assert "/kill-switches/model/openai.gpt-4o-2024-11/flip/" not in page
    assert page.count("read-only") == 2


def test_it_filters_by_freshness_and_state(client, switches, auditor):
    client.force_login(auditor)
    page = client.get("/kill-switches/?state=engaged").content.decode()
    assert "No feature switches match the filters" in page
    page = client.get("/kill-switches/?freshness=stale").content.decode()
    assert "policy-search-v1" in page


def test_it_refuses_the_console_to_a_gateway_account(client, gateway):
    client.force_login(gateway)
    assert client.get("/kill-switches/").status_code == 403


def test_it_confirms_with_the_blast_radius_and_flips_with_a_reason(
    client, feature_switch, feature_owner
):
    client.force_login(feature_owner)
    confirm = client.get("/kill-switches/feature/policy-search-v1/flip/")
    assert confirm.status_code == 200
    assert (
        "turns AI off for 4,000,000 users of policy-search-v1; fallback keyword-search-v3"
        in confirm.content.decode()
    )
    response = client.post("/kill-switches/feature/policy-search-v1/flip/", {"reason": "INC-77"})
    assert response.status_code == 302
    feature_switch.refresh_from_db()
    assert not feature_switch.enabled
    assert feature_switch.history.first().history_change_reason == "engaged: INC-77"


def test_it_keeps_the_form_with_an_error_when_the_reason_is_missing(
    client, feature_switch, platform_team
):
    client.force_login(platform_team)
    response = client.post("/kill-switches/feature/policy-search-v1/flip/", {"reason": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    feature_switch.refresh_from_db()
    assert feature_switch.enabled
    assert policy.current_version() == 0


def test_it_refuses_the_flip_page_to_a_non_owner(client, model_switch, auditor):
    client.force_login(auditor)
    assert client.get("/kill-switches/model/openai.gpt-4o-2024-11/flip/").status_code == 403
    assert (
        client.post("/kill-switches/model/openai.gpt-4o-2024-11/flip/", {"reason": "x"}).status_code
        == 403
    )
    model_switch.refresh_from_db()
    assert not model_switch.disabled


def test_it_answers_404_for_an_unknown_switch(client, platform_team):
    client.force_login(platform_team)
    assert client.get("/kill-switches/model/nope/flip/").status_code == 404


def test_it_shows_the_gateways_and_flags_a_lagging_one(client, auditor, gateway):
    from datetime import timedelta

    import time_machine

    from changemgmt.killswitches.services import gateway_ack

    with time_machine.travel("2026-11-10 10:00Z", tick=False) as traveller:
        policy.policy_bump("a")
        gateway_ack(gateway_id="gw-eu-1", version=1, acting_user=gateway)
        policy.policy_bump("b")
        traveller.shift(timedelta(minutes=30))
        client.force_login(auditor)
        page = client.get("/kill-switches/").content.decode()
        assert 'data-gateway="gw-eu-1"' in page
        assert "lagging" in page
        assert 'data-lagging="gw-eu-1"' in dashboard_html(auditor)


def dashboard_html(user):
    # Only this app's panel: the whole dashboard also renders other apps' panels.
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from changemgmt.killswitches.panels import dashboard_panel

    request = RequestFactory().get("/")
    request.user = user
    return render_to_string(
        "killswitches/_dashboard_panel.html", {"panel": dashboard_panel(request)}, request=request
    )
