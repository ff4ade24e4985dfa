"""Input taken too leniently (issue 11, item 11): each of these used to change something. Now a
400 naming the field (or a form error on the page), and nothing changes."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from drf_spectacular.generators import SchemaGenerator

from changemgmt.killswitches import policy
from changemgmt.killswitches.models import TenantSwitch
from changemgmt.tickets.models import MAX_EVAL_ROWS, ChangeTicket
from tests.factories import FeatureFactory, TenantFactory, TicketFactory
from tests.tickets.api_payloads import client_for, worked_example

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("engaged", ["yes", "true", 0, 1, "1", None])
def test_it_takes_only_a_json_boolean_for_engaged(platform_team, engaged):
    from tests.killswitches.factories import ModelSwitchFactory

    switch = ModelSwitchFactory()
    response = client_for(platform_team).post(
        f"/api/v1/kill-switches/model/{switch.key}/flip/",
        {"engaged": engaged, "reason": "drill"},
        format="json",
    )
    assert response.status_code == 400
    assert "engaged" in response.json()
    switch.refresh_from_db()
    assert not switch.disabled
    assert policy.current_version() == 0


def test_it_refuses_a_planned_start_without_an_offset_naming_the_field(author, release_manager):
    FeatureFactory(slug="support-assistant")
    body = worked_example()
    body["release_window"]["planned_start"] = "2027-02-10T10:00:00"
    response = client_for(author).post("/api/v1/changes/", body, format="json")
    assert response.status_code == 400
    assert "UTC offset" in response.json()["release_window"]["planned_start"][0]
    assert not ChangeTicket.objects.exists()


def test_it_refuses_a_schedule_without_an_offset(release_manager, author):
    ticket = TicketFactory(author=author, release_manager=release_manager, state="approved")
    response = client_for(release_manager).post(
        f"/api/v1/changes/{ticket.change_id}/schedule/",
        {"planned_start": "2027-02-10T10:00"},
        format="json",
    )
    assert response.status_code == 400
    assert "planned_start" in response.json()
    ticket.refresh_from_db()
    assert ticket.state == "approved"


def test_it_refuses_a_health_sample_without_an_offset(author, release_manager):
    from tests.factories import UserFactory

    observer = UserFactory(username="observer", roles=["observability"])
    ticket = TicketFactory(author=author, release_manager=release_manager)
    response = client_for(observer).post(
        f"/api/v1/changes/{ticket.change_id}/metrics/",
        {"metric": "error_rate", "value": 0.01, "observed_at": "2026-11-30T10:12:00"},
        format="json",
    )
    assert response.status_code in (400, 409)
    if response.status_code == 400:
        assert "observed_at" in response.json()
    assert not ticket.samples.exists()


def test_it_refuses_a_calendar_range_without_an_offset(author):
    response = client_for(author).get("/api/v1/calendar/events/", {"start": "2027-02-10T10:00"})
    assert response.status_code == 400
    assert "start" in response.json()


def test_it_caps_eval_rows_in_the_api_as_the_form_does(author, release_manager):
    FeatureFactory(slug="support-assistant")
    rows = [
        {"metric": f"m{i}", "baseline": 0.5, "candidate": 0.5} for i in range(MAX_EVAL_ROWS + 1)
    ]
    response = client_for(author).post(
        "/api/v1/changes/", worked_example(eval_deltas=rows), format="json"
    )
    assert response.status_code == 400
    assert "eval_deltas" in response.json()
    assert not ChangeTicket.objects.exists()
    response = client_for(author).post(
        "/api/v1/changes/", worked_example(eval_deltas=rows[:MAX_EVAL_ROWS]), format="json"
    )
    assert response.status_code == 201


def test_it_caps_every_list_a_client_may_send():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    uncapped = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                ref = media["schema"].get("$ref", "")
                target = components.get(ref.rsplit("/", 1)[-1], media["schema"])
                uncapped |= {
                    f"{method.upper()} {path}{where}"
                    for where in _resolve_and_find(target, components)
                }
    assert not uncapped, "\n".join(sorted(uncapped))


def _resolve_and_find(schema, components, where="", depth=0):
    if depth > 8:
        return []
    found = []
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return _resolve_and_find(components[name], components, where, depth + 1)
        if (
            schema.get("type") == "array"
            and not schema.get("readOnly")
            and "maxItems" not in schema
        ):
            found.append(where or " (the body)")
        for key, value in schema.items():
            if key in ("properties",):
                for name, prop in value.items():
                    if not prop.get("readOnly"):
                        found += _resolve_and_find(prop, components, f"{where}.{name}", depth + 1)
            elif key in ("items", "allOf", "oneOf", "anyOf"):
                items = value if isinstance(value, list) else [value]
                for item in items:
                    found += _resolve_and_find(item, components, where + "[]", depth + 1)
    return found


def _tenant_yaml(expires: str) -> str:
    return (
        "feature_kill_switches: {}\n"
        "model_kill_switches: []\n"
        "tenant_kill_switches:\n"
        "  enterprise-tenant-1:\n"
        "    ai_disabled: true\n"
        '    reason: "compliance pause"\n'
        f"    expires: {expires}\n"
    )


def test_it_refuses_an_import_whose_expiry_is_past_as_the_flip_api_does(tmp_path):
    from django.core.management import CommandError, call_command

    TenantFactory(tenant_id="enterprise-tenant-1")
    path = tmp_path / "policy.yaml"
    path.write_text(_tenant_yaml("2026-06-30"))
    with time_machine.travel(datetime(2026, 12, 1, 12, tzinfo=UTC), tick=False):
        with pytest.raises(CommandError) as error:
            call_command("import_gateway_policy", str(path))
    assert ": line 7: enterprise-tenant-1.expires is in the past" in str(error.value)
    assert not TenantSwitch.objects.exists()


def test_it_keeps_a_tenant_switch_on_until_the_end_of_its_day_in_the_policy_zone(support_eng):
    from changemgmt.killswitches.services import sweep_tenant_expiry

    switch = TenantSwitch.objects.create(
        tenant=TenantFactory(tenant_id="enterprise-tenant-1"),
        ai_disabled=True,
        reason="compliance pause",
        expires=date(2026, 6, 30),
    )
    # 02:00 UTC on July 1st is still June 30th, 22:00, in New York (the policy's zone).
    with time_machine.travel(datetime(2026, 7, 1, 2, tzinfo=UTC), tick=False):
        assert sweep_tenant_expiry()["lifted"] == 0
    switch.refresh_from_db()
    assert switch.ai_disabled
    with time_machine.travel(datetime(2026, 7, 1, 4, 1, tzinfo=UTC), tick=False):
        assert sweep_tenant_expiry()["lifted"] == 1
    switch.refresh_from_db()
    assert not switch.ai_disabled


def test_it_takes_today_as_an_expiry_until_the_day_ends_in_the_policy_zone(support_eng):
    tenant = TenantFactory(tenant_id="enterprise-tenant-1")
    # 01:00 UTC on July 1st: still June 30th in New York, so June 30th is not in the past.
    with time_machine.travel(datetime(2026, 7, 1, 1, tzinfo=UTC), tick=False):
        response = client_for(support_eng).post(
            f"/api/v1/kill-switches/tenant/{tenant.tenant_id}/flip/",
            {"engaged": True, "reason": "compliance pause", "expires": "2026-06-30"},
            format="json",
        )
    if response.status_code == 404:
        TenantSwitch.objects.create(tenant=tenant)
        with time_machine.travel(datetime(2026, 7, 1, 1, tzinfo=UTC), tick=False):
            response = client_for(support_eng).post(
                f"/api/v1/kill-switches/tenant/{tenant.tenant_id}/flip/",
                {"engaged": True, "reason": "compliance pause", "expires": "2026-06-30"},
                format="json",
            )
    assert response.status_code == 200, response.content
    assert TenantSwitch.objects.get(tenant=tenant).expires == date(2026, 6, 30)
