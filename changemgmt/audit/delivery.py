"""Delivering a recorded notification: its email on a background thread, its webhook through
Celery, each outcome written back on the row (see notify.py for the whole path)."""

import json
import logging
import os
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.mail import send_mail
from django.db import connections, transaction

from changemgmt import celery as celery_app_module
from changemgmt import clock

from .models import Notification, NotificationStatus
from .recording import loaded_under_lock, save_audited, system_user

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 10


def deliver(notification: Notification):
    """After the commit that recorded `notification`: hand its email to the background sender and
    queue its webhook post. Never raises, never waits on a mail server."""
    notification_id = notification.pk
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
            loaded_under_lock(notification)
            try:
                send_mail(
                    f"[changemgmt] {notification.subject}",
                    notification.body,
                    settings.DEFAULT_FROM_EMAIL,
                    notification.recipients,
                )
            except Exception:
                logger.exception("email for notification %s failed", notification_id)
                _mark(notification, status=NotificationStatus.FAILED, reason="email failed")
            else:
                _mark(notification, status=NotificationStatus.SENT, reason="email sent")
    except Exception:  # recording the outcome failed (database gone): the outbox sweep retries
        logger.exception("email for notification %s not recorded", notification_id)


_sender = None
_sender_pid = None
_sender_lock = threading.Lock()
_sender_connections = set()  # the email threads' database connections, closed by the drain


def _email_sender() -> ThreadPoolExecutor:
    """This process's email threads (made anew after a fork: threads do not survive one)."""
    global _sender, _sender_pid
    with _sender_lock:
        if _sender is None or _sender_pid != os.getpid():
            _sender = ThreadPoolExecutor(max_workers=2, thread_name_prefix="changemgmt-email")
            _sender_pid = os.getpid()
            _sender_connections.clear()
        return _sender


def drain_email_sender() -> None:
    """Wait for the emails handed to the background threads (a clean shutdown, or a test), then
    close the database connections the threads kept."""
    global _sender
    with _sender_lock:
        sender, _sender = _sender, None
    if sender is None or _sender_pid != os.getpid():
        return
    sender.shutdown(wait=True)
    with _sender_lock:
        kept = list(_sender_connections)
        _sender_connections.clear()
    for conn in kept:
        conn.inc_thread_sharing()  # its thread has ended: this one may close it
        try:
            conn.close()
        finally:
            conn.dec_thread_sharing()


def _send_email_in_background(notification_id: int) -> None:
    try:
        send_email_now(notification_id)
    finally:
        # The thread keeps its connection for the next email, as a web thread does between
        # requests (DB_CONN_MAX_AGE): a new connection per flip cost PostgreSQL a backend each.
        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()
            with _sender_lock:
                _sender_connections.add(conn)


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
    mark_notification(notification_id, webhook_queued_at=clock.now(), reason="webhook queued")
    return True


@transaction.atomic
def mark_notification(notification_id, *, reason, attempt=False, **fields):
    """Write a delivery outcome on the locked row; its history says the system did it, and why."""
    notification = loaded_under_lock(
        Notification.objects.select_for_update().get(pk=notification_id)
    )
    return _mark(notification, reason=reason, attempt=attempt, **fields)


def _mark(notification, *, reason, attempt=False, **fields):
    """`mark_notification` on a row its caller has locked, in the caller's transaction."""
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
        mark_notification(
            notification_id, attempt=True, webhook_status=status, reason=f"webhook: {exc}"[:200]
        )
        raise
    mark_notification(
        notification_id, attempt=True, webhook_status=NotificationStatus.SENT, reason="webhook sent"
    )
