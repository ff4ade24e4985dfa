from datetime import timedelta

import pytest
import time_machine

from changemgmt.killswitches import policy
from changemgmt.killswitches.models import Gateway, GatewayAck
from changemgmt.killswitches.services import gateway_status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_names")]

ACK = "/api/v1/gateway-policy/ack"


def ack(client, token, body):
    return client.post(
        ACK, body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
    )


def test_it_records_an_ack(client, gateway_token):
    policy.policy_bump("a")
    policy.policy_bump("b")
    response = ack(client, gateway_token, {"gateway": "gw-eu-1", "version": 2})
    assert response.status_code == 200, response.content
    gateway = Gateway.objects.get(gateway_id="gw-eu-1")
    assert gateway.acked_version == 2
    assert GatewayAck.objects.filter(gateway=gateway, version=2).count() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"gateway": "gw-eu-1", "version": 99}, "version"),
        ({"gateway": "gw-eu-1", "version": "1"}, "version"),
        ({"gateway": "gw-eu-1", "version": True}, "version"),
        ({"gateway": "gw-eu-1", "version": -1}, "version"),
        ({"gateway": "", "version": 1}, "gateway"),
        ({"version": 1}, "gateway"),
    ],
)
def test_it_refuses_bad_acks_with_field_messages(client, gateway_token, body, field):
    policy.policy_bump("a")
    response = ack(client, gateway_token, body)
    assert response.status_code == 400
    assert field in response.json()
    assert not GatewayAck.objects.exists()


def test_it_lets_only_gateways_ack(client, platform_team, db):
    client.force_login(platform_team)
    response = client.post(ACK, {"gateway": "gw", "version": 0}, content_type="application/json")
    assert response.status_code == 403
    assert (
        client.post(
            ACK, {"gateway": "gw", "version": 0}, content_type="application/json"
        ).status_code
        == 403
    )


def test_it_answers_401_to_anonymous(client, db):
    assert client.post(
        ACK, {"gateway": "gw", "version": 0}, content_type="application/json"
    ).status_code in (401, 403)


def test_it_flags_a_gateway_that_lags(client, gateway_token):
    with time_machine.travel("2026-11-10 10:00Z", tick=False) as traveller:
        policy.policy_bump("a")
        ack(client, gateway_token, {"gateway": "gw-eu-1", "version": 1})
        ack(client, gateway_token, {"gateway": "gw-us-1", "version": 1})
        policy.policy_bump("b")
        ack(client, gateway_token, {"gateway": "gw-eu-1", "version": 2})
        traveller.shift(timedelta(minutes=1))
        rows = {r["gateway"].gateway_id: r for r in gateway_status()}
        assert not rows["gw-us-1"]["lagging"]  # still inside the grace period
        traveller.shift(timedelta(minutes=10))
        rows = {r["gateway"].gateway_id: r for r in gateway_status()}
        assert rows["gw-us-1"]["lagging"] and rows["gw-us-1"]["behind_by"] == 1
        assert not rows["gw-eu-1"]["lagging"]
        assert rows["gw-eu-1"]["age"] == timedelta(minutes=11)


def test_it_never_moves_a_gateway_backwards(client, gateway_token):
    policy.policy_bump("a")
    policy.policy_bump("b")
    ack(client, gateway_token, {"gateway": "gw-eu-1", "version": 2})
    ack(client, gateway_token, {"gateway": "gw-eu-1", "version": 1})
    assert Gateway.objects.get(gateway_id="gw-eu-1").acked_version == 2
