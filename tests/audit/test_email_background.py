"""Emails go out on a background thread after commit: a hung mail server never holds up the
caller, and an email a dead process left pending is sent by the outbox sweep."""

import socket
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.db.backends.signals import connection_created

from changemgmt import celery as celery_module
from changemgmt import clock
from changemgmt.audit import delivery, notify, outbox
from changemgmt.audit.models import Notification, NotificationStatus

pytestmark = pytest.mark.django_db(transaction=True)


class HungMailServer:
    """Accepts SMTP connections and says nothing (no greeting) until released, then hangs up."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    accepted = 0

    def _serve(self):
        conn, _ = self.sock.accept()
        self.accepted += 1
        self.connected.set()
        self.release.wait(60)
        conn.close()

    def close(self):
        self.release.set()
        self.sock.close()


@pytest.fixture(autouse=True)
def _a_web_process(monkeypatch):
    """As in gunicorn: not a Celery worker (an in-process test worker may have said so)."""
    monkeypatch.setattr(celery_module, "in_worker", False)


@pytest.fixture
def hung_mail_server(settings):
    server = HungMailServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_TIMEOUT = 60  # a caller that waited for it would wait a minute
    settings.NOTIFY_EMAIL_BACKGROUND = True
    yield server
    server.close()


def pending(subject, *, at=None):
    """A pending email notification recorded at `at` (now by default)."""
    with time_machine.travel(at or clock.now(), tick=False):
        return Notification.objects.create(
            event="killswitch.flip",
            subject=subject,
            body="b",
            recipients=["oncall@example.com"],
            status=NotificationStatus.PENDING,
            created_at=clock.now(),
        )


def status_of(notification):
    notification.refresh_from_db()
    return notification.status


def test_a_hung_mail_server_does_not_hold_up_the_caller(hung_mail_server):
    with transaction.atomic():
        notification = notify.notify(
            "killswitch.flip", subject="s", body="b", recipients=["oncall@example.com"]
        )
    # The commit has returned; the email is on its way on another thread.
    assert hung_mail_server.connected.wait(20), "the background sender never connected"
    assert status_of(notification) == NotificationStatus.PENDING  # still talking to the server
    hung_mail_server.release.set()  # the server hangs up: the attempt fails, and says so
    delivery.drain_email_sender()
    assert status_of(notification) == NotificationStatus.FAILED


def test_it_sends_the_email_in_the_background_after_commit(settings):
    settings.NOTIFY_EMAIL_BACKGROUND = True
    with transaction.atomic():
        notification = notify.notify(
            "ticket.submit", subject="CHG submitted", body="b", recipients=["cab@example.com"]
        )
    delivery.drain_email_sender()  # the email thread is done (SQLite's test database is not
    # shared between threads that write and read at once)
    assert status_of(notification) == NotificationStatus.SENT
    assert [m.subject for m in mail.outbox] == ["[changemgmt] CHG submitted"]


def test_it_sends_nothing_when_the_transaction_rolls_back(settings):
    settings.NOTIFY_EMAIL_BACKGROUND = True
    with pytest.raises(RuntimeError), transaction.atomic():
        notify.notify("ticket.submit", subject="s", body="b", recipients=["cab@example.com"])
        raise RuntimeError("rolled back")
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_the_sweep_sends_an_email_a_dead_process_left_pending():
    left = pending("left behind", at=clock.now() - outbox.EMAIL_STUCK_AFTER - timedelta(minutes=1))
    fresh_enough = pending("still with its sender")
    assert outbox.sweep_outbox() == 1
    assert status_of(left) == NotificationStatus.SENT
    assert status_of(fresh_enough) == NotificationStatus.PENDING
    assert [m.subject for m in mail.outbox] == ["[changemgmt] left behind"]


def test_the_sweep_gives_up_on_an_email_pending_for_days():
    old = pending(
        "news from last week", at=clock.now() - outbox.EMAIL_GIVE_UP_AFTER - timedelta(hours=1)
    )
    outbox.sweep_outbox()
    assert status_of(old) == NotificationStatus.FAILED
    assert mail.outbox == []


def test_a_celery_worker_sends_inline(settings, monkeypatch):
    """A worker's processes end with os._exit: a queued email thread would be lost there."""
    settings.NOTIFY_EMAIL_BACKGROUND = True
    monkeypatch.setattr(celery_module, "in_worker", True)
    with transaction.atomic():
        notification = notify.notify(
            "rollout.halt", subject="HALTED", body="b", recipients=["oncall@example.com"]
        )
    assert status_of(notification) == NotificationStatus.SENT  # no thread to wait for
    assert [m.subject for m in mail.outbox] == ["[changemgmt] HALTED"]


@pytest.mark.postgres
def test_two_senders_never_send_the_same_email_twice(hung_mail_server):
    """The background thread holds the row while the mail server answers: an overlapping sweep
    (or a second thread) skips it instead of sending it again."""
    with transaction.atomic():
        notification = notify.notify(
            "killswitch.flip", subject="once", body="b", recipients=["oncall@example.com"]
        )
    assert hung_mail_server.connected.wait(20)  # the background sender holds the row now
    delivery.send_email_now(notification.pk)  # a second sender: skips the locked row at once
    assert status_of(notification) == NotificationStatus.PENDING
    assert hung_mail_server.accepted == 1
    hung_mail_server.release.set()
    delivery.drain_email_sender()
    assert status_of(notification) == NotificationStatus.FAILED


@pytest.mark.postgres  # SQLite's shared test database cannot take two threads writing at once
def test_the_email_threads_keep_their_connection_until_drained(settings):
    """A new database connection per email cost PostgreSQL a backend per flip: the threads keep
    theirs between emails, as web threads do between requests, and the drain closes them."""
    settings.NOTIFY_EMAIL_BACKGROUND = True
    opened = []

    def count(sender, connection, **kwargs):
        if threading.current_thread().name.startswith("changemgmt-email"):
            opened.append(connection)

    connection_created.connect(count)
    try:
        sent = []
        for n in range(6):
            with transaction.atomic():
                sent.append(
                    notify.notify(
                        "ticket.submit", subject=f"CHG {n}", body="b", recipients=["c@x.example"]
                    )
                )
            sender = delivery._email_sender()
            sender.submit(lambda: None).result(timeout=20)  # the email before it is done
        delivery.drain_email_sender()
    finally:
        connection_created.disconnect(count)
    assert [status_of(n) for n in sent] == [NotificationStatus.SENT] * 6
    assert 1 <= len(opened) <= 2, f"{len(opened)} connections for 6 emails on 2 threads"
    assert all(conn.connection is None for conn in opened), "the drain left one open"
