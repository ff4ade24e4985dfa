from datetime import date

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from changemgmt.killswitches import policy
from changemgmt.killswitches.services import UnknownSwitch, blast_radius, killswitch_flip

pytestmark = pytest.mark.django_db


def test_it_records_who_flipped_and_why(
    feature_switch, feature_owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = killswitch_flip(
            "feature",
            "policy-search-v1",
            engaged=True,
            reason="jailbreak going public",
            acting_user=feature_owner,
        )
    assert result.changed and result.version == 1
    feature_switch.refresh_from_db()
    assert feature_switch.enabled is False
    row = feature_switch.history.first()
    assert row.history_user == feature_owner
    assert row.history_change_reason == "engaged: jailbreak going public"
    assert row.prev_record.enabled is True
    assert mail.outbox and "policy-search-v1" in mail.outbox[0].subject
    assert feature_owner.email in mail.outbox[0].to


def test_it_changes_nothing_when_already_in_that_state(feature_switch, platform_team):
    rows = feature_switch.history.count()
    result = killswitch_flip(
        "feature", "policy-search-v1", engaged=False, reason="noop", acting_user=platform_team
    )
    assert not result.changed
    assert "already in that state" in result.message
    assert feature_switch.history.count() == rows
    assert policy.current_version() == 0


def test_it_requires_a_reason(model_switch, platform_team):
    with pytest.raises(ValidationError) as caught:
        killswitch_flip(
            "model", model_switch.key, engaged=True, reason="  ", acting_user=platform_team
        )
    assert "reason" in caught.value.message_dict
    model_switch.refresh_from_db()
    assert model_switch.disabled is False


@time_machine.travel("2026-05-01 12:00Z", tick=False)
def test_it_sets_a_tenant_reason_and_expiry(tenant_switch, support_eng):
    killswitch_flip(
        "tenant",
        tenant_switch.key,
        engaged=True,
        reason="tenant compliance pause; ticket SUP-44012",
        expires=date(2026, 6, 30),
        acting_user=support_eng,
    )
    tenant_switch.refresh_from_db()
    assert tenant_switch.ai_disabled
    assert tenant_switch.reason == "tenant compliance pause; ticket SUP-44012"
    assert tenant_switch.expires == date(2026, 6, 30)


@time_machine.travel("2026-05-01 12:00Z", tick=False)
def test_it_refuses_an_expiry_in_the_past_or_on_another_layer(
    tenant_switch, model_switch, support_eng, platform_team
):
    with pytest.raises(ValidationError):
        killswitch_flip(
            "tenant",
            tenant_switch.key,
            engaged=True,
            reason="x",
            expires=date(2026, 1, 1),
            acting_user=support_eng,
        )
    with pytest.raises(ValidationError):
        killswitch_flip(
            "model",
            model_switch.key,
            engaged=True,
            reason="x",
            expires=date(2026, 9, 1),
            acting_user=platform_team,
        )


def test_it_refuses_an_unknown_switch(platform_team, db):
    with pytest.raises(UnknownSwitch):
        killswitch_flip("feature", "nope", engaged=True, reason="x", acting_user=platform_team)


def test_it_names_the_blast_radius(feature_switch):
    assert blast_radius(feature_switch) == (
        "turns AI off for 4,000,000 users of policy-search-v1; fallback keyword-search-v3"
    )


@time_machine.travel("2026-05-01 12:00Z", tick=False)
def test_it_extends_an_engaged_tenant_switch_with_a_new_expiry(tenant_switch, support_eng):
    args = dict(engaged=True, reason="pause", acting_user=support_eng)
    killswitch_flip("tenant", tenant_switch.key, expires=date(2026, 6, 30), **args)
    assert not killswitch_flip("tenant", tenant_switch.key, **args).changed
    assert killswitch_flip("tenant", tenant_switch.key, expires=date(2026, 7, 31), **args).changed
    tenant_switch.refresh_from_db()
    assert tenant_switch.expires == date(2026, 7, 31)
    assert policy.current_version() == 2
