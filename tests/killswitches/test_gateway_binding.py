"""Issue 12.5: a gateway account acks only for the gateway names an admin bound to it, and the
console shows how far behind each gateway is, in versions and seconds, green / amber / red."""

from datetime import timedelta

import pytest
import time_machine
from rest_framework.authtoken.models import Token

from changemgmt import roles
from changemgmt.audit.recording import system_user
from changemgmt.killswitches import policy
from changemgmt.killswitches.models import Gateway, GatewayAck
from changemgmt.killswitches.services import gateway_bind, gateway_status
from tests.admin_forms import form_data
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ACK = "/api/v1/gateway-policy/ack"


def ack(client, token, name, version):
    return client.post(
        ACK, {"gateway": name, "version": version}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )  # fmt: skip


@pytest.fixture
def eu_and_us(gateway):
    """gw-eu-1 bound to the gateway persona; gw-us-1 to a second gateway account."""
    us_account = UserFactory(username="gateway-us", roles=[roles.GATEWAY])
    gateway_bind(gateway_id="gw-eu-1", account=gateway, acting_user=system_user())
    gateway_bind(gateway_id="gw-us-1", account=us_account, acting_user=system_user())
    return Token.objects.create(user=gateway).key, Token.objects.create(user=us_account).key


def test_it_refuses_an_ack_for_a_gateway_bound_to_another_account(client, eu_and_us):
    """The reproduction: one gateway token acked as both gw-eu-1 and gw-us-1."""
    eu_token, _ = eu_and_us
    policy.policy_bump("a")
    assert ack(client, eu_token, "gw-eu-1", 1).status_code == 200
    refused = ack(client, eu_token, "gw-us-1", 1)
    assert refused.status_code == 403
    assert "'gw-us-1' is not bound to the account 'gateway'" in refused.json()["detail"]
    assert Gateway.objects.get(gateway_id="gw-us-1").acked_version == 0
    assert not GatewayAck.objects.filter(gateway__gateway_id="gw-us-1").exists()


def test_it_refuses_an_ack_for_a_name_nobody_bound(client, eu_and_us):
    eu_token, _ = eu_and_us
    refused = ack(client, eu_token, "gw-made-up", 0)
    assert refused.status_code == 403
    assert "an admin binds gateway names" in refused.json()["detail"]
    assert not Gateway.objects.filter(gateway_id="gw-made-up").exists()


def test_it_lets_each_account_ack_its_own_name(client, eu_and_us):
    eu_token, us_token = eu_and_us
    policy.policy_bump("a")
    assert ack(client, eu_token, "gw-eu-1", 1).status_code == 200
    assert ack(client, us_token, "gw-us-1", 1).status_code == 200
    assert ack(client, us_token, "gw-eu-1", 1).status_code == 403


def test_it_binds_a_name_only_to_a_gateway_account(platform_team, gateway):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="not a gateway account"):
        gateway_bind(gateway_id="gw-eu-1", account=platform_team, acting_user=system_user())


def test_it_lets_an_admin_bind_a_name_to_a_gateway_account(admin_client, gateway, platform_team):
    page = admin_client.get("/admin/killswitches/gateway/add/")
    choices = {
        str(c[0].value) for c in page.context["adminform"].form.fields["account"].choices if c[0]
    }
    assert choices == {str(gateway.pk)}  # only gateway accounts are offered
    response = admin_client.post(
        "/admin/killswitches/gateway/add/",
        {"gateway_id": "gw-ap-1", "account": gateway.pk},
    )
    assert response.status_code == 302, response.content
    bound = Gateway.objects.get(gateway_id="gw-ap-1")
    assert bound.account == gateway
    assert bound.history.first().history_change_reason == "admin: added"
    url = f"/admin/killswitches/gateway/{bound.pk}/change/"
    admin_client.post(url, form_data(admin_client, url, acked_version=99))
    bound.refresh_from_db()
    assert bound.acked_version == 0  # acks set it, never the admin


def test_it_shows_lag_in_versions_and_seconds_amber_then_red(
    client, auditor, gateway_names, gateway
):
    """A gateway 4 versions behind was shown with a green "current"."""
    token = Token.objects.create(user=gateway).key
    with time_machine.travel("2026-11-10 10:00Z", tick=False) as traveller:
        policy.policy_bump("v1")
        ack(client, token, "gw-eu-1", 1)
        ack(client, token, "gw-us-1", 1)
        traveller.shift(timedelta(seconds=30))
        for n in range(4):
            policy.policy_bump(f"v{n + 2}")
        ack(client, token, "gw-eu-1", 5)
        traveller.shift(timedelta(seconds=45))
        rows = {r["gateway"].gateway_id: r for r in gateway_status()}
        assert (rows["gw-eu-1"]["level"], rows["gw-eu-1"]["behind_by"]) == ("green", 0)
        us = rows["gw-us-1"]
        assert (us["level"], us["behind_by"], us["lag_seconds"]) == ("amber", 4, 45.0)
        client.force_login(auditor)
        page = client.get("/kill-switches/").content.decode()
        assert 'data-gateway="gw-us-1" data-level="amber"' in page
        assert "4 versions, 45 s" in page
        assert 'data-gateway="gw-eu-1" data-level="green"' in page
        traveller.shift(timedelta(minutes=5))
        page = client.get("/kill-switches/").content.decode()
        assert 'data-gateway="gw-us-1" data-level="red"' in page
        assert "4 versions, 345 s" in page
        assert "lagging" in page
