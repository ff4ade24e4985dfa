"""The notification outbox: a webhook that could not be queued (broker down) is queued by the
sweep once the broker answers again, and a sent one is never queued twice."""

import pytest

from changemgmt.audit import delivery, notify, outbox, tasks
from changemgmt.audit.models import Notification, NotificationStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(monkeypatch, settings):
    settings.NOTIFY_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    state = {"up": False, "queued": []}

    def delay(notification_id):
        if not state["up"]:
            raise ConnectionError("broker down")
        state["queued"].append(notification_id)

    monkeypatch.setattr(tasks.post_webhook, "delay", delay)
    return state


def test_it_keeps_an_unqueued_webhook_pending_and_queues_it_when_the_broker_is_back(
    broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sent = notify.notify("drill", subject="s", body="b", recipients=["a@example.com"])
    notification = Notification.objects.get(pk=sent.pk)
    assert notification.webhook_status == NotificationStatus.PENDING
    assert notification.webhook_queued_at is None
    assert outbox.sweep_outbox() == 0  # still down: nothing queued, nothing lost

    broker["up"] = True
    assert outbox.sweep_outbox() == 1
    assert broker["queued"] == [sent.pk]
    assert outbox.sweep_outbox() == 0  # queued once, not again on the next sweep
    assert Notification.objects.get(pk=sent.pk).webhook_queued_at is not None


def test_it_never_queues_a_sent_webhook_again(broker, django_capture_on_commit_callbacks):
    broker["up"] = True
    with django_capture_on_commit_callbacks(execute=True):
        sent = notify.notify("drill", subject="s", body="b", recipients=["a@example.com"])
    delivery.mark_notification(
        sent.pk, webhook_status=NotificationStatus.SENT, reason="webhook sent"
    )
    assert outbox.sweep_outbox() == 0
    assert broker["queued"] == [sent.pk]
