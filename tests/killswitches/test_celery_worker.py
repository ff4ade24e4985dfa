"""The expiry sweep through a real Celery worker (in-process, solo pool) on the configured broker:
Redis when REDIS_URL is set, else kombu's filesystem transport in tmp_path, on a queue of its own.
"""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun

from changemgmt import clock
from changemgmt.celery import app
from changemgmt.killswitches import tasks
from changemgmt.killswitches.models import TenantSwitch
from tests.conftest import celery_test_broker

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    queue = f"killswitches-test-{uuid.uuid4().hex[:10]}"
    finished = []
    done = threading.Condition()

    def on_postrun(task=None, retval=None, **kwargs):
        if task is not None and task.name == tasks.sweep_tenant_switch_expiry.name:
            with done:
                finished.append(retval)
                done.notify_all()

    def wait_for_one(timeout=30):
        deadline = time.monotonic() + timeout
        with done:
            while not finished:
                left = deadline - time.monotonic()
                assert left > 0, f"the worker ran no sweep in {timeout}s"
                done.wait(left)
        return finished[0]

    task_postrun.connect(on_postrun, weak=False)
    try:
        with (
            celery_test_broker(tmp_path, queue),
            start_worker(
                app, perform_ping_check=False, pool="solo", queues=[queue], loglevel="WARNING"
            ),
        ):
            yield queue, wait_for_one
    finally:
        task_postrun.disconnect(on_postrun)


def test_it_lifts_an_expired_tenant_switch_through_a_worker(tenant_switch, worker):
    queue, wait_for_one = worker
    tenant_switch.ai_disabled = True
    tenant_switch.reason = "compliance pause"
    tenant_switch.expires = clock.now().date() - timedelta(days=1)
    tenant_switch.save()
    tasks.sweep_tenant_switch_expiry.apply_async(queue=queue)
    assert wait_for_one() == {"lifted": 1, "warned": 0}
    switch = TenantSwitch.objects.get(pk=tenant_switch.pk)
    assert not switch.ai_disabled
