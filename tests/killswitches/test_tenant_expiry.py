from datetime import date

import pytest
import time_machine
from django.core import mail

from changemgmt.audit.recording import SYSTEM_USERNAME
from changemgmt.killswitches import policy, tasks
from changemgmt.killswitches.models import TenantSwitch

pytestmark = pytest.mark.django_db


@pytest.fixture
def paused(tenant_switch, support_eng):
    tenant_switch.ai_disabled = True
    tenant_switch.reason = "tenant compliance pause; ticket SUP-44012"
    tenant_switch.expires = date(2026, 6, 30)
    tenant_switch.save()
    return tenant_switch


def sweep(capture):
    with capture(execute=True):
        return tasks.sweep_tenant_switch_expiry()


def test_it_leaves_a_switch_alone_until_its_expiry_week(paused, django_capture_on_commit_callbacks):
    with time_machine.travel("2026-06-22 12:00Z", tick=False):
        assert sweep(django_capture_on_commit_callbacks) == {"lifted": 0, "warned": 0}
    assert not mail.outbox


def test_it_warns_seven_days_ahead_once(paused, support_eng, django_capture_on_commit_callbacks):
    with time_machine.travel("2026-06-23 12:00Z", tick=False):
        assert sweep(django_capture_on_commit_callbacks) == {"lifted": 0, "warned": 1}
        assert sweep(django_capture_on_commit_callbacks) == {"lifted": 0, "warned": 0}
    assert len(mail.outbox) == 1
    assert support_eng.email in mail.outbox[0].to
    assert "expires 2026-06-30" in mail.outbox[0].subject
    paused.refresh_from_db()
    assert paused.ai_disabled and paused.warned_at is not None


def test_it_keeps_the_switch_on_its_last_day(paused, django_capture_on_commit_callbacks):
    with time_machine.travel("2026-06-30 23:00Z", tick=False):
        assert sweep(django_capture_on_commit_callbacks)["lifted"] == 0


def test_it_lifts_an_expired_switch_audited_as_system_with_a_notice(
    paused, support_eng, django_capture_on_commit_callbacks
):
    # 00:10 on July 1st in New York (the policy's zone), where the expiry day ends.
    with time_machine.travel("2026-07-01 04:10Z", tick=False):
        assert sweep(django_capture_on_commit_callbacks)["lifted"] == 1
        assert sweep(django_capture_on_commit_callbacks)["lifted"] == 0
    paused.refresh_from_db()
    assert not paused.ai_disabled and paused.expires is None
    row = paused.history.order_by("-history_id").first()  # fixtures were saved at real time
    assert row.history_user.username == SYSTEM_USERNAME
    assert row.history_change_reason.startswith("released: expired on 2026-06-30")
    assert policy.current_version() == 1
    assert any("lifted" in m.subject and support_eng.email in m.to for m in mail.outbox)


def test_it_ignores_switches_without_an_expiry(tenant_switch, django_capture_on_commit_callbacks):
    tenant_switch.ai_disabled = True
    tenant_switch.save()
    with time_machine.travel("2030-01-01 00:00Z", tick=False):
        assert sweep(django_capture_on_commit_callbacks) == {"lifted": 0, "warned": 0}
    assert TenantSwitch.objects.get().ai_disabled
