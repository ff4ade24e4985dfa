"""Notifications: email to the people concerned, after the transaction commits.

Interim version (email only); the audit app extends it with a Notification record and a
webhook post retried by Celery. The signature is the contract other apps call.
"""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction


def notify(event: str, *, subject: str, body: str, recipients, ticket=None, payload=None):
    """Queue a notification for after commit: nothing is sent if the transaction rolls back."""
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return

    def send():
        send_mail(f"[changemgmt] {subject}", body, settings.DEFAULT_FROM_EMAIL, recipients)

    transaction.on_commit(send)
