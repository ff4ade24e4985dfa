"""Notifications: recorded with the event, sent after the transaction commits.

`notify()` writes a `Notification` row in the caller's transaction and registers its delivery with
`transaction.on_commit`: nothing is sent if the transaction rolls back, and a failing mail server or
webhook never breaks the request (errors are logged and the row says "failed"). Delivery
(`delivery.py`): the email goes out on a background thread of this process
(NOTIFY_EMAIL_BACKGROUND), so a slow mail server never holds up the request; the webhook post runs
in Celery (`changemgmt.audit.tasks.post_webhook`), retried with backoff. The outbox (`outbox.py`):
beat's sweep sends what neither got to (a process that died, a broker that was down).
"""

from django.conf import settings
from django.db import transaction

from changemgmt import clock

from .delivery import deliver
from .models import Notification, NotificationStatus
from .recording import save_audited, system_user


def notify(
    event: str, *, subject: str, body: str, recipients, ticket=None, payload=None, system=None
):
    """Record a notification of `event` and queue its delivery for after commit. `system` is
    the system account, when the caller has looked it up already (see `system_user`)."""
    recipients = sorted({r.strip() for r in recipients or () if r and r.strip()})
    webhook = bool(settings.NOTIFY_WEBHOOK_URL)
    if not recipients and not webhook:
        return None
    notification = Notification(
        event=event,
        ticket=ticket,
        recipients=recipients,
        subject=subject[:255],
        body=body,
        payload=payload or {},
        status=NotificationStatus.PENDING if recipients else NotificationStatus.SKIPPED,
        webhook_status=NotificationStatus.PENDING if webhook else NotificationStatus.SKIPPED,
        created_at=clock.now(),
    )
    save_audited(notification, acting_user=system or system_user(), reason=f"notify: {event}")
    transaction.on_commit(lambda: deliver(notification))
    return notification
