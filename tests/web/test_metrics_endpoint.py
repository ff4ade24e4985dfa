"""/metrics: the app's state in Prometheus text format, readable only by a `metrics` account's
token or from METRICS_ALLOWED_IPS."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from changemgmt.rollouts.tick_stats import record_tick
from changemgmt.tickets.models import State
from tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db

NAMES = {
    "changemgmt_tickets",
    "changemgmt_ramp_traffic_percent",
    "changemgmt_breaches",
    "changemgmt_breaches_unacknowledged",
    "changemgmt_policy_version",
    "changemgmt_gateway_applied_version",
    "changemgmt_gateway_lag_versions",
    "changemgmt_gateway_ack_age_seconds",
    "changemgmt_killswitch_engaged",
    "changemgmt_killswitch_freshness",
    "changemgmt_killswitch_last_exercised_timestamp_seconds",
    "changemgmt_tenant_switches_engaged",
    "changemgmt_cab_queue_size",
    "changemgmt_cab_queue_oldest_age_seconds",
    "changemgmt_audit_chain_length",
    "changemgmt_sweeper_ticks",
    "changemgmt_sweeper_tick_errors",
    "changemgmt_sweeper_last_tick_duration_seconds",
    "changemgmt_sweeper_last_tick_timestamp_seconds",
    "changemgmt_celery_queue_length",
}


def token_client(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {Token.objects.get_or_create(user=user)[0].key}")


@pytest.fixture
def metrics_account():
    user = UserFactory(username="prometheus-scraper")
    user.groups.add(Group.objects.get_or_create(name="metrics")[0])
    return user


def families(response) -> dict:
    assert response.status_code == 200, response.content[:300]
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def test_it_serves_every_metric_to_a_metrics_token(metrics_account, author):
    from changemgmt.killswitches.models import Gateway

    TicketFactory(author=author, state=State.SUBMITTED)
    Gateway.objects.create(gateway_id="gw-eu-1", acked_version=0)
    record_tick(1.25, failed=False)
    record_tick(0.5, failed=True)
    found = families(token_client(metrics_account).get("/metrics"))
    # The parser drops a counter's _total suffix from the family name.
    assert NAMES - set(found) == set()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in found.values()
        for s in f.samples
    }
    assert samples[("changemgmt_cab_queue_size", ())] == 1
    assert samples[("changemgmt_tickets", (("state", "submitted"),))] == 1
    assert samples[("changemgmt_sweeper_ticks_total", ())] == 2
    assert samples[("changemgmt_sweeper_tick_errors_total", ())] == 1
    assert samples[("changemgmt_sweeper_last_tick_duration_seconds", ())] == 0.5
    assert ("changemgmt_gateway_lag_versions", (("gateway", "gw-eu-1"),)) in samples


def test_it_serves_an_allowed_address_without_a_token(settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    found = families(Client(REMOTE_ADDR="10.1.2.3").get("/metrics"))
    assert "changemgmt_policy_version" in found


@pytest.mark.parametrize("who", ["anonymous", "auditor_session", "auditor_token", "forwarded"])
def test_it_refuses_everyone_else_with_the_reason(who, auditor, settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    if who == "anonymous":
        client = Client()
    elif who == "auditor_session":
        client = Client()
        client.force_login(auditor)
    elif who == "auditor_token":
        client = token_client(auditor)
    else:  # a forwarded header is not the client's address
        client = Client(HTTP_X_FORWARDED_FOR="10.1.2.3")
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b"metrics account" in response.content
    assert b"changemgmt_" not in response.content


def test_the_contrib_dashboard_and_alerts_use_only_metrics_we_serve():
    import json
    import re
    from pathlib import Path

    import yaml
    from django.conf import settings

    contrib = Path(settings.BASE_DIR) / "contrib"
    rules = yaml.safe_load((contrib / "prometheus" / "changemgmt-alerts.yml").read_text())
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((contrib / "grafana" / "changemgmt-dashboard.json").read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {
        re.sub(r"_total$", "", name) for e in exprs for name in re.findall(r"changemgmt_\w+", e)
    }
    served = NAMES | {"changemgmt_audit_checkpoint_age_seconds"}  # absent until checkpoints land
    assert used - served == set()
    assert {"ChangemgmtRampHalted", "ChangemgmtGatewayLagging", "ChangemgmtKillSwitchStale"} <= {
        rule["alert"] for group in rules["groups"] for rule in group["rules"]
    }


def test_it_serves_the_audit_checkpoint_age_once_there_is_one(metrics_account, author):
    import io

    from django.core.management import call_command

    client = token_client(metrics_account)
    assert "changemgmt_audit_checkpoint_age_seconds" not in families(client.get("/metrics"))
    TicketFactory(author=author)  # something in the chain to pin
    call_command("audit_checkpoint", "--create-key", stdout=io.StringIO())
    call_command("audit_checkpoint", stdout=io.StringIO())
    found = families(client.get("/metrics"))
    (age,) = found["changemgmt_audit_checkpoint_age_seconds"].samples
    assert 0 <= age.value < 60
    assert found["changemgmt_audit_checkpoint_verified"].samples[0].value == 1
