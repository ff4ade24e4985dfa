import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.db import transaction

from changemgmt.audit.models import Notification, NotificationStatus
from changemgmt.audit.notify import notify
from changemgmt.audit.tasks import post_webhook
from changemgmt.tickets.services import ticket_transition
from tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def ticket(author, release_manager):
    UserFactory(username="watcher", email="watcher@example.com")
    return TicketFactory(
        author=author,
        release_manager=release_manager,
        bridge=["watcher"],
        paging_list=["ai-oncall@example.com"],
    )


def test_it_emails_the_paging_list_and_watchers_once_after_commit(
    ticket, author, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_transition(ticket, "submit", acting_user=author)
        assert mail.outbox == []  # nothing leaves before the commit
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert ticket.change_id in email.subject
    assert "submitted" in email.subject
    assert sorted(email.to) == [
        "ai-oncall@example.com",
        "author@example.com",
        "release_manager@example.com",
        "watcher@example.com",
    ]
    notification = Notification.objects.get()
    assert notification.event == "ticket.submit"
    assert notification.ticket == ticket
    assert notification.status == NotificationStatus.SENT
    assert notification.sent_at is not None


def test_it_puts_the_reason_in_the_body(ticket, author, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_transition(ticket, "cancel", acting_user=author, reason="superseded by CHG-9")
    assert "cancelled" in mail.outbox[0].subject
    assert "Reason: superseded by CHG-9" in mail.outbox[0].body


def test_it_sends_nothing_when_the_transaction_rolls_back(
    ticket, author, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                ticket_transition(ticket, "submit", acting_user=author)
                raise RuntimeError("something later in the same use case failed")
    assert callbacks == []
    assert mail.outbox == []
    assert not Notification.objects.exists()
    ticket.refresh_from_db()
    assert ticket.state == "draft"


def test_it_does_not_notify_transitions_nobody_is_paged_for(
    ticket, author, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket_transition(ticket, "submit", acting_user=author)
        ticket_transition(ticket, "withdraw", acting_user=author)
    assert [n.event for n in Notification.objects.order_by("id")] == ["ticket.submit"]
    assert len(mail.outbox) == 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failing_mail_server_never_breaks_the_caller(
    ticket, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    with django_capture_on_commit_callbacks(execute=True):
        notification = notify(
            "killswitch.flip", subject="s", body="b", recipients=["a@example.com"], ticket=ticket
        )
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED


# ----- webhook -----


class FlakyEndpoint:
    """A local HTTP endpoint that answers 503 to the first `failures` posts, then 204."""

    def __init__(self, failures):
        self.failures = failures
        self.bodies = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                endpoint.bodies.append(json.loads(self.rfile.read(length)))
                failing = len(endpoint.bodies) <= endpoint.failures
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def eager_celery():
    """Run queued tasks in-process through Celery's real apply/retry path (no broker)."""
    conf = post_webhook.app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, False
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


def test_it_retries_the_webhook_until_the_endpoint_recovers(
    ticket, settings, eager_celery, django_capture_on_commit_callbacks
):
    with FlakyEndpoint(failures=2) as endpoint:
        settings.NOTIFY_WEBHOOK_URL = endpoint.url
        with django_capture_on_commit_callbacks(execute=True):
            notification = notify(
                "ticket.halt",
                subject=f"{ticket.change_id} HALTED",
                body="Reason: error rate 4%",
                recipients=["ai-oncall@example.com"],
                ticket=ticket,
                payload={"transition": "halt"},
            )
    assert len(endpoint.bodies) == 3
    assert endpoint.bodies[-1]["event"] == "ticket.halt"
    assert endpoint.bodies[-1]["change_id"] == ticket.change_id
    assert endpoint.bodies[-1]["payload"] == {"transition": "halt"}
    notification.refresh_from_db()
    assert notification.webhook_status == NotificationStatus.SENT
    assert notification.attempts == 3
    assert len(mail.outbox) == 1


def test_it_gives_up_after_its_retries_without_breaking_anything(ticket, settings, eager_celery):
    with FlakyEndpoint(failures=100) as endpoint:
        settings.NOTIFY_WEBHOOK_URL = endpoint.url
        notification = notify("ticket.start", subject="s", body="b", recipients=[], ticket=ticket)
        result = post_webhook.apply(args=[notification.pk])
    assert result.failed()
    assert len(endpoint.bodies) == post_webhook.max_retries + 1
    notification.refresh_from_db()
    assert notification.webhook_status == NotificationStatus.FAILED
    assert notification.attempts == post_webhook.max_retries + 1


def test_a_redelivered_webhook_task_posts_nothing_twice(ticket, settings, eager_celery):
    with FlakyEndpoint(failures=0) as endpoint:
        settings.NOTIFY_WEBHOOK_URL = endpoint.url
        notification = notify("ticket.close", subject="s", body="b", recipients=[], ticket=ticket)
        post_webhook.apply(args=[notification.pk])
        post_webhook.apply(args=[notification.pk])
    assert len(endpoint.bodies) == 1
