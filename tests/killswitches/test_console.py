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
    response = client.post(
        "/kill-switches/feature/policy-search-v1/flip/", {"engage": "1", "reason": "INC-77"}
    )
    assert response.status_code == 302
    feature_switch.refresh_from_db()
    assert not feature_switch.enabled
    assert feature_switch.history.first().history_change_reason == "engaged: INC-77"


def test_it_keeps_the_form_with_an_error_when_the_reason_is_missing(
    client, feature_switch, platform_team
):
    client.force_login(platform_team)
    response = client.post(
        "/kill-switches/feature/policy-search-v1/flip/", {"engage": "1", "reason": ""}
    )
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


def test_it_shows_the_gateways_and_flags_a_lagging_one(client, auditor, gateway, gateway_names):
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


HTMX = {"HTTP_HX_REQUEST": "true"}
FLIP = "/kill-switches/feature/policy-search-v1/flip/"


def test_it_opens_the_flip_form_inline_in_the_row_with_htmx(client, feature_switch, feature_owner):
    client.force_login(feature_owner)
    response = client.get(FLIP, **HTMX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<tbody id="switch-feature:policy-search-v1">')
    assert "<html" not in fragment
    assert "turns AI off for 4,000,000 users of policy-search-v1" in fragment
    assert f'hx-post="{FLIP}"' in fragment
    assert 'hx-get="/kill-switches/feature/policy-search-v1/"' in fragment  # Cancel


def test_it_flips_inline_and_returns_the_flipped_row_and_the_new_version(
    client, feature_switch, feature_owner
):
    client.force_login(feature_owner)
    response = client.post(FLIP, {"engage": "1", "reason": "INC-78"}, **HTMX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "engaged — AI off" in fragment
    assert "flip-done" in fragment
    assert (
        f'<strong id="policy-version" hx-swap-oob="true">v{policy.current_version()}</strong>'
        in (fragment)
    )
    feature_switch.refresh_from_db()
    assert not feature_switch.enabled
    assert feature_switch.history.first().history_change_reason == "engaged: INC-78"


def test_it_answers_400_with_the_inline_form_and_its_error_and_flips_nothing(
    client, feature_switch, platform_team
):
    client.force_login(platform_team)
    response = client.post(FLIP, {"engage": "1", "reason": "  "}, **HTMX)
    assert response.status_code == 400
    fragment = response.content.decode()
    assert "This field is required" in fragment
    assert fragment.lstrip().startswith("<tbody")
    feature_switch.refresh_from_db()
    assert feature_switch.enabled
    assert policy.current_version() == 0


def test_it_puts_the_row_back_on_cancel(client, feature_switch, auditor, feature_owner):
    client.force_login(feature_owner)
    fragment = client.get("/kill-switches/feature/policy-search-v1/").content.decode()
    assert fragment.lstrip().startswith('<tbody id="switch-feature:policy-search-v1">')
    assert "flip-inline" not in fragment
    assert f'hx-get="{FLIP}"' in fragment
    client.force_login(auditor)
    fragment = client.get("/kill-switches/feature/policy-search-v1/").content.decode()
    assert "read-only" in fragment
    assert client.get("/kill-switches/feature/nope/").status_code == 404


def test_it_refuses_the_inline_flip_to_a_non_owner(client, model_switch, auditor):
    client.force_login(auditor)
    url = "/kill-switches/model/openai.gpt-4o-2024-11/flip/"
    assert client.get(url, **HTMX).status_code == 403
    assert client.post(url, {"reason": "x"}, **HTMX).status_code == 403
    model_switch.refresh_from_db()
    assert not model_switch.disabled


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_it_refuses_a_second_identical_flip_instead_of_reversing_the_first(
    client, feature_switch, platform_team, headers
):
    """Two engineers open the form during an incident and both press Engage: the second must not
    turn the AI back on."""
    client.force_login(platform_team)
    engage = {"engage": "1", "reason": "INC-79"}
    assert client.post(FLIP, engage, **headers).status_code in (200, 302)
    version = policy.current_version()
    second = client.post(FLIP, engage, **headers)
    assert second.status_code == 409
    assert "feature:policy-search-v1 is already engaged (AI off): nothing changed." in (
        second.content.decode()
    )
    feature_switch.refresh_from_db()
    assert not feature_switch.enabled
    assert policy.current_version() == version
    assert 'name="engage" value="0"' in second.content.decode()  # now offers Release


def test_it_answers_400_to_a_flip_that_does_not_say_which_way(
    client, feature_switch, platform_team
):
    client.force_login(platform_team)
    response = client.post(FLIP, {"reason": "INC-80"})
    assert response.status_code == 400
    assert "did not say whether to engage or release" in response.content.decode()
    feature_switch.refresh_from_db()
    assert feature_switch.enabled


def test_it_sends_an_htmx_request_without_a_session_to_the_login_page_as_a_whole(client, db):
    response = client.get(
        "/kill-switches/feature/policy-search-v1/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/kill-switches/?state=engaged",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=/kill-switches/%3Fstate%3Dengaged"
    assert client.get("/kill-switches/").status_code == 302  # without htmx: the plain redirect
