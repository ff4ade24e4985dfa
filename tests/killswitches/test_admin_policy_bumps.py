"""Admin edits that change the served gateway policy bump its version, so gateways polling with
the old ETag get the new document: a deleted switch is gone, a renamed id shows its new name."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from changemgmt import clock
from changemgmt.audit.models import AuditRecord
from changemgmt.killswitches import policy
from changemgmt.killswitches.models import Exercise, FeatureSwitch, TenantSwitch
from tests.admin_forms import form_data

from .factories import ExerciseFactory, TenantSwitchFactory

pytestmark = pytest.mark.django_db

YAML_URL = "/gateway-policies/kill-switches.yaml"
JSON_URL = "/api/v1/gateway-policy"


@pytest.fixture
def reader(auditor):
    reader = Client()
    reader.force_login(auditor)
    return reader


def assert_reason(obj, reason, user):
    history = type(obj).history.filter(id=obj.pk).order_by("history_id").last()
    assert (history.history_user, history.history_change_reason) == (user, reason)
    record = AuditRecord.objects.get(
        history_model=history._meta.label_lower, history_id=history.history_id
    )
    assert (record.actor_username, record.reason) == (user.username, reason)


def test_it_bumps_and_stops_serving_a_switch_deleted_in_the_admin(
    admin_client, reader, root, switches
):
    switch = switches["feature"]
    before = reader.get(YAML_URL)
    assert "  policy-search-v1:\n" in before.text
    version = policy.current_version()

    url = reverse("admin:killswitches_featureswitch_delete", args=[switch.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302

    assert not FeatureSwitch.objects.exists()
    assert policy.current_version() == version + 1
    after = reader.get(YAML_URL, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert "policy-search-v1" not in after.text
    assert "feature_kill_switches: {}" in after.text
    assert_reason(switch, "admin: deleted", root)


def test_it_bumps_once_for_a_bulk_delete_of_switches(admin_client, reader, root, switches):
    second = TenantSwitchFactory(tenant__tenant_id="tenant-acme")
    assert "tenant-acme:" in reader.get(YAML_URL).text
    version = policy.current_version()

    response = admin_client.post(
        reverse("admin:killswitches_tenantswitch_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [switches["tenant"].pk, second.pk],
            "post": "yes",
        },
    )
    assert response.status_code == 302

    assert not TenantSwitch.objects.exists()
    assert policy.current_version() == version + 1
    served = reader.get(YAML_URL).text
    assert "tenant_kill_switches: {}" in served
    assert "enterprise-tenant-12891" not in served and "tenant-acme" not in served
    for switch in (switches["tenant"], second):
        assert_reason(switch, "admin: deleted", root)


def test_it_still_bumps_for_a_switch_edited_in_the_admin(admin_client, reader, root, switches):
    switch = switches["feature"]
    version = policy.current_version()
    url = reverse("admin:killswitches_featureswitch_change", args=[switch.pk])
    data = form_data(admin_client, url, fallback="human-agent-queue")
    assert admin_client.post(url, data).status_code == 302
    assert policy.current_version() == version + 1
    assert "    fallback: human-agent-queue" in reader.get(YAML_URL).text
    assert_reason(switch, "admin: changed fallback", root)


@pytest.mark.parametrize(
    "admin_name, catalog_row, id_field, new_id, served_line",
    [
        (
            "aifeature",
            lambda s: s["feature"].feature,
            "slug",
            "policy-search-v2",
            "  policy-search-v2:",
        ),
        (
            "aimodel",
            lambda s: s["model"].model,
            "model_id",
            "openai.gpt-4o-2025-01",
            "  - model: openai.gpt-4o-2025-01",
        ),
        (
            "aimodel",
            lambda s: s["model"].fallback_model,
            "model_id",
            "anthropic.claude-sonnet-5",
            "    fallback_model: anthropic.claude-sonnet-5",
        ),
        ("tenant", lambda s: s["tenant"].tenant, "tenant_id", "tenant-12891", "  tenant-12891:"),
    ],
)
def test_it_bumps_when_the_admin_renames_an_id_the_document_shows(
    admin_client, reader, root, switches, admin_name, catalog_row, id_field, new_id, served_line
):
    row = catalog_row(switches)
    before = reader.get(YAML_URL)
    version = policy.current_version()

    url = reverse(f"admin:catalog_{admin_name}_change", args=[row.pk])
    data = form_data(admin_client, url, **{id_field: new_id})
    assert admin_client.post(url, data).status_code == 302

    assert policy.current_version() == version + 1
    after = reader.get(YAML_URL, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert served_line + "\n" in after.text
    assert_reason(row, f"admin: changed {id_field}", root)


def test_it_keeps_the_version_for_a_catalog_edit_the_document_does_not_show(
    admin_client, root, switches
):
    feature = switches["feature"].feature
    version = policy.current_version()
    url = reverse("admin:catalog_aifeature_change", args=[feature.pk])
    assert admin_client.post(url, form_data(admin_client, url, name="Renamed")).status_code == 302
    assert policy.current_version() == version
    assert_reason(feature, "admin: changed name", root)


def test_it_bumps_when_an_open_exercise_is_deleted_in_the_admin(admin_client, reader, switches):
    exercise = ExerciseFactory(
        switch_path="feature:policy-search-v1", canary_slice="5%", flipped_at=clock.now()
    )
    assert json.loads(reader.get(JSON_URL).content)["canary_exercises"] != []
    version = policy.current_version()

    url = reverse("admin:killswitches_exercise_delete", args=[exercise.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302

    assert not Exercise.objects.exists()
    assert policy.current_version() == version + 1
    assert json.loads(reader.get(JSON_URL).content)["canary_exercises"] == []
