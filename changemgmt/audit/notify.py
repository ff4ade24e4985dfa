"""Notifications: recorded with the event, sent after the transaction commits.

`notify()` writes a `Notification` row in the caller's transaction and registers its delivery with
`transaction.on_commit`: nothing is sent if the transaction rolls back, and a failing mail server or
webhook never breaks the request (errors are logged and the row says "failed"). The email goes out
on a background thread of this process (NOTIFY_EMAIL_BACKGROUND), so a slow mail server never holds
up the request; the webhook post runs in Celery (`changemgmt.audit.tasks.post_webhook`), retried
with backoff. Beat's outbox sweep sends what neither got to (a process that died, a broker that
was down).
"""

import json
import logging
import os
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connections, transaction
from django.db.models import Q

from changemgmt import celery as celery_app_module
from changemgmt import clock

from .models import Notification, NotificationStatus
from .recording import save_audited, system_user

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10


def notify(event: str, *, subject: str, body: str, recipients, ticket=None, payload=None):
    """Record a notification of `event` and queue its delivery for after commit."""
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
    save_audited(notification, acting_user=system_user(), reason=f"notify: {event}")
    transaction.on_commit(lambda: deliver(notification.pk))
    return notification


def deliver(notification_id: int):
    """After commit: hand the email to the background sender and queue the webhook post. Never
    raises, never waits on a mail server."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return
    if notification.status == NotificationStatus.PENDING:
        if settings.NOTIFY_EMAIL_BACKGROUND and not celery_app_module.in_worker:
            try:
                _email_sender().submit(_send_email_in_background, notification_id)
            except RuntimeError:  # the interpreter is shutting down: no new threads
                send_email_now(notification_id)
        else:
            send_email_now(notification_id)
    if notification.webhook_status == NotificationStatus.PENDING and settings.NOTIFY_WEBHOOK_URL:
        queue_webhook(notification_id)


def send_email_now(notification_id: int) -> None:
    """Send a pending notification's email and record the outcome. Never raises.

    The row stays locked while the mail server answers (at most EMAIL_TIMEOUT per operation), and
    a sender that finds it locked skips it: the background thread and an overlapping outbox
    sweep never send the same email twice."""
    try:
        with transaction.atomic():
            notification = (
                Notification.objects.select_for_update(skip_locked=True)
                .filter(pk=notification_id, status=NotificationStatus.PENDING)
                .first()
            )
            if notification is None:
                return  # sent, given up, or being sent by another sender
            try:
                send_mail(
                    f"[changemgmt] {notification.subject}",
                    notification.body,
                    settings.DEFAULT_FROM_EMAIL,
                    notification.recipients,
                )
            except Exception:
                logger.exception("email for notification %s failed", notification_id)
                _mark(notification_id, status=NotificationStatus.FAILED, reason="email failed")
            else:
                _mark(notification_id, status=NotificationStatus.SENT, reason="email sent")
    except Exception:  # recording the outcome failed (database gone): the outbox sweep retries
        logger.exception("email for notification %s not recorded", notification_id)


_sender = None
_sender_pid = None
_sender_lock = threading.Lock()


def _email_sender() -> ThreadPoolExecutor:
    """This process's email threads (made anew after a fork: threads do not survive one)."""
    global _sender, _sender_pid
    with _sender_lock:
        if _sender is None or _sender_pid != os.getpid():
            _sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="changemgmt-email")
            _sender_pid = os.getpid()
        return _sender


def drain_email_sender() -> None:
    """Wait for the emails handed to the background thread (a clean shutdown, or a test)."""
    global _sender
    with _sender_lock:
        if _sender is not None and _sender_pid == os.getpid():
            _sender.shutdown(wait=True)
        _sender = None


def _send_email_in_background(notification_id: int) -> None:
    try:
        send_email_now(notification_id)
    finally:
        connections.close_all()  # this thread's own database connections


def queue_webhook(notification_id: int) -> bool:
    """Hand the webhook post to the broker. While the broker is down the row stays pending with
    no queued time, and the outbox sweep (beat, every minute) queues it once the broker is back."""
    from .tasks import post_webhook

    try:
        post_webhook.delay(notification_id)
    except Exception as exc:  # broker down: log it, never break the caller
        logger.warning(
            "webhook of notification %s not queued (%s); the outbox sweep will retry",
            notification_id,
            exc,
        )
        return False
    _mark(notification_id, webhook_queued_at=clock.now(), reason="webhook queued")
    return True


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
        _mark(pk, status=NotificationStatus.FAILED, reason="email given up: pending for 2 days")
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


@transaction.atomic
def _mark(notification_id, *, reason, attempt=False, **fields):
    notification = Notification.objects.select_for_update().get(pk=notification_id)
    for name, value in fields.items():
        setattr(notification, name, value)
    if fields.get("status") == NotificationStatus.SENT:
        notification.sent_at = clock.now()
    if attempt:
        notification.attempts += 1
    save_audited(notification, acting_user=system_user(), reason=reason)
    return notification


def webhook_body(notification) -> dict:
    return {
        "id": notification.pk,
        "event": notification.event,
        "subject": notification.subject,
        "body": notification.body,
        "recipients": notification.recipients,
        "change_id": notification.ticket.change_id if notification.ticket_id else None,
        "payload": notification.payload,
        "created_at": notification.created_at.isoformat(),
    }


def post_webhook_now(notification_id: int, *, final_attempt: bool):
    """One webhook attempt (the Celery task's body). Raises on failure so Celery retries."""
    notification = Notification.objects.select_related("ticket").filter(pk=notification_id).first()
    url = settings.NOTIFY_WEBHOOK_URL
    if notification is None or not url or notification.webhook_status == NotificationStatus.SENT:
        return  # already delivered: a redelivered task posts nothing twice
    request = urllib.request.Request(
        url,
        data=json.dumps(webhook_body(notification)).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "changemgmt"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read()
    except Exception as exc:
        status = NotificationStatus.FAILED if final_attempt else NotificationStatus.PENDING
        _mark(notification_id, attempt=True, webhook_status=status, reason=f"webhook: {exc}"[:200])
        raise
    _mark(
        notification_id, attempt=True, webhook_status=NotificationStatus.SENT, reason="webhook sent"
    )
