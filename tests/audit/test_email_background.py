"""Emails go out on a background thread after commit: a hung mail server never holds up the
caller, and an email a dead process left pending is sent by the outbox sweep."""

import socket
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction

from changemgmt import clock
from changemgmt.audit import notify
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

    def _serve(self):
        conn, _ = self.sock.accept()
        self.connected.set()
        self.release.wait(60)
        conn.close()

    def close(self):
        self.release.set()
        self.sock.close()


@pytest.fixture
def hung_mail_server(settings):
    server = HungMailServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_TIMEOUT = 60  # a caller that waited for it would wait a minute
    settings.NOTIFY_EMAIL_BACKGROUND = True
    yield server
    server.close()


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
    notify.drain_email_sender()
    assert status_of(notification) == NotificationStatus.FAILED


def test_it_sends_the_email_in_the_background_after_commit(settings):
    settings.NOTIFY_EMAIL_BACKGROUND = True
    with transaction.atomic():
        notification = notify.notify(
            "ticket.submit", subject="CHG submitted", body="b", recipients=["cab@example.com"]
        )
    notify.drain_email_sender()  # the email thread is done (SQLite's test database is not
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
    sent_at = clock.now() - notify.EMAIL_STUCK_AFTER - timedelta(minutes=1)
    with time_machine.travel(sent_at, tick=False):
        left = Notification.objects.create(
            event="killswitch.flip",
            subject="left behind",
            body="b",
            recipients=["oncall@example.com"],
            status=NotificationStatus.PENDING,
            created_at=clock.now(),
        )
    fresh_enough = Notification.objects.create(
        event="killswitch.flip",
        subject="still with its sender",
        body="b",
        recipients=["oncall@example.com"],
        status=NotificationStatus.PENDING,
        created_at=clock.now(),
    )
    assert notify.sweep_outbox() == 1
    assert status_of(left) == NotificationStatus.SENT
    assert status_of(fresh_enough) == NotificationStatus.PENDING
    assert [m.subject for m in mail.outbox] == ["[changemgmt] left behind"]
