"""The expiry sweep through a real Celery worker (in-process, solo pool) on the configured broker:
Redis when REDIS_URL is set, else kombu's filesystem transport in tmp_path, on a queue of its own.
"""

from datetime import timedelta

import pytest

from changemgmt.killswitches import tasks
from changemgmt.killswitches.models import TenantSwitch
from changemgmt.killswitches.services import policy_today
from tests.conftest import real_worker

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    with real_worker(tmp_path, "killswitches-test", tasks.sweep_tenant_switch_expiry) as running:
        yield running


def test_it_lifts_an_expired_tenant_switch_through_a_worker(tenant_switch, worker):
    queue, finishes = worker
    tenant_switch.ai_disabled = True
    tenant_switch.reason = "compliance pause"
    # Yesterday where the day is counted: in the policy's zone, not UTC.
    tenant_switch.expires = policy_today() - timedelta(days=1)
    tenant_switch.save()
    tasks.sweep_tenant_switch_expiry.apply_async(queue=queue)
    assert finishes.wait() == [{"lifted": 1, "warned": 0}]
    switch = TenantSwitch.objects.get(pk=tenant_switch.pk)
    assert not switch.ai_disabled
