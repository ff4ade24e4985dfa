"""The outbox sweep (beat, every minute): what delivery after commit did not get to is sent late
or given up, never lost silently."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from changemgmt import clock

from .delivery import mark_notification, queue_webhook, send_email_now
from .models import Notification, NotificationStatus

# A queued post that has neither succeeded nor failed for this long was lost with its message
# (a broker restart without persistence): queue it again. post_webhook_now skips a sent one.
REQUEUE_AFTER = timedelta(minutes=30)
# An email still pending this long after its event was lost with the process that was to send it
# (each attempt gives up after EMAIL_TIMEOUT seconds): the sweep sends it.
EMAIL_STUCK_AFTER = timedelta(minutes=15)
# ... and one pending for longer is not news any more: it is marked failed, not sent.
EMAIL_GIVE_UP_AFTER = timedelta(days=2)


def sweep_outbox(now=None) -> int:
    """Send the emails a dead process left pending; queue every pending webhook that was never
    queued (or whose message was lost). Returns how many it handled."""
    now = now or clock.now()
    stale = Notification.objects.filter(
        status=NotificationStatus.PENDING, created_at__lt=now - EMAIL_GIVE_UP_AFTER
    )
    for pk in stale.order_by("pk").values_list("pk", flat=True)[:500]:
        mark_notification(
            pk, status=NotificationStatus.FAILED, reason="email given up: pending for 2 days"
        )
    stuck = Notification.objects.filter(
        status=NotificationStatus.PENDING,
        created_at__lt=now - EMAIL_STUCK_AFTER,
        created_at__gte=now - EMAIL_GIVE_UP_AFTER,
    )
    emails = 0
    for pk in stuck.order_by("pk").values_list("pk", flat=True)[:500]:
        send_email_now(pk)
        emails += 1
    if not settings.NOTIFY_WEBHOOK_URL:
        return emails
    due = Notification.objects.filter(webhook_status=NotificationStatus.PENDING).filter(
        Q(webhook_queued_at__isnull=True) | Q(webhook_queued_at__lt=now - REQUEUE_AFTER)
    )
    return emails + sum(
        queue_webhook(pk) for pk in due.order_by("pk").values_list("pk", flat=True)[:500]
    )
