import pytest

from changemgmt.killswitches import policy

pytestmark = pytest.mark.django_db


def url(layer, key):
    return f"/api/v1/kill-switches/{layer}/{key}/flip/"


def test_it_flips_through_the_api(client, platform_team, model_switch):
    client.force_login(platform_team)
    response = client.post(
        url("model", "openai.gpt-4o-2024-11"),
        {"engaged": True, "reason": "stop sending traffic to GPT-4o"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["changed"] is True
    assert response.json()["version"] == policy.current_version() == 1
    model_switch.refresh_from_db()
    assert model_switch.disabled


def test_it_answers_403_for_a_role_that_may_not(client, auditor, model_switch):
    client.force_login(auditor)
    response = client.post(
        url("model", model_switch.key),
        {"engaged": True, "reason": "x"},
        content_type="application/json",
    )
    assert response.status_code == 403
    model_switch.refresh_from_db()
    assert not model_switch.disabled


@pytest.mark.parametrize(
    "body, field",
    [
        ({"reason": "x"}, "engaged"),
        ({"engaged": True}, "reason"),
        ({"engaged": True, "reason": ""}, "reason"),
        ({"engaged": "maybe", "reason": "x"}, "engaged"),
        ({"engaged": True, "reason": "x", "expires": "not-a-date"}, "expires"),
        ({"engaged": True, "reason": "x", "expires": "2001-01-01"}, "expires"),
    ],
)
def test_it_answers_400_with_field_messages(client, support_eng, tenant_switch, body, field):
    client.force_login(support_eng)
    response = client.post(url("tenant", tenant_switch.key), body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    tenant_switch.refresh_from_db()
    assert not tenant_switch.ai_disabled
    assert policy.current_version() == 0


def test_it_answers_404_for_an_unknown_key_or_layer(client, platform_team, db):
    client.force_login(platform_team)
    body = {"engaged": True, "reason": "x"}
    assert (
        client.post(url("model", "nope"), body, content_type="application/json").status_code == 404
    )
    assert client.post(url("cohort", "x"), body, content_type="application/json").status_code == 404


def test_it_reports_already_in_that_state(client, platform_team, model_switch):
    client.force_login(platform_team)
    response = client.post(
        url("model", model_switch.key),
        {"engaged": False, "reason": "x"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["changed"] is False
    assert "already in that state" in response.json()["detail"]
