"""The audit chain and notifications.

Every simple-history row of every domain model gets one `AuditRecord`, written at the end of the
same transaction (changemgmt.audit.chain). Each record carries a hash of the history row's content and a
hash chained to the previous record, so an edit, deletion or insertion made outside the app (raw
SQL, a restored backup) breaks the chain where it happened: `manage.py verify_audit` names it.
"""

import hashlib

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from simple_history.models import HistoricalRecords

from .canonical import canonical_json

GENESIS_HASH = "0" * 64


class AuditHead(models.Model):
    """The one row every writer locks to append to the chain: the chain never forks, because
    appending is serialized on this row (select_for_update). Writers take it last, just before
    they commit (audit.append.append_record), so it is held for a few inserts, not a use case."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self):
        return f"audit head #{self.seq}"


class Action(models.TextChoices):
    CREATED = "+", "created"
    CHANGED = "~", "changed"
    DELETED = "-", "deleted"


class AuditRecord(models.Model):
    """Append-only: no app path updates or deletes a record (and on PostgreSQL a trigger refuses)."""

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    history_model = models.CharField(max_length=100)
    history_id = models.BigIntegerField()
    object_model = models.CharField(max_length=100, db_index=True)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=255)
    # "feature:support-assistant" etc. for kill switches, so a ticket's timeline can show the
    # flips on its kill-switch path without the audit app importing the killswitches app.
    object_key = models.CharField(max_length=255, blank=True, db_index=True)
    action = models.CharField(max_length=1, choices=Action.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True, db_index=True)
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)  # {field: [old, new]}
    ticket_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    content_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["history_model", "history_id"], name="one_audit_record_per_history_row"
            )
        ]
        indexes = [models.Index(fields=["object_model", "object_id"])]

    def __str__(self):
        return f"#{self.seq} {self.object_model} {self.object_id} {self.action}"

    @property
    def action_label(self) -> str:
        return Action(self.action).label

    def compute_hash(self) -> str:
        """sha256 over the previous hash, the content hash and every field of this record."""
        blob = self.prev_hash + self.content_hash + canonical_json(self._hashed_fields(self.seq))
        return hashlib.sha256(blob.encode()).hexdigest()

    def hashed_text_around_seq(self) -> tuple[str, str]:
        """The text `compute_hash` hashes after the two hashes, split where the seq goes:
        `prev_hash + content_hash + before + str(seq) + after`. What the chain lock needs to
        hash a record is then the seq alone (append.chain_records)."""
        text = canonical_json(self._hashed_fields(None))
        # The keys are sorted: the record's own "seq" is the last one ("ticket_id" follows).
        before, _, after = text.rpartition('"seq":null')
        return before + '"seq":', after

    def _hashed_fields(self, seq) -> dict:
        return {
            "seq": seq,
            "created_at": self.created_at,
            "history_model": self.history_model,
            "history_id": self.history_id,
            "object_model": self.object_model,
            "object_id": self.object_id,
            "object_repr": self.object_repr,
            "object_key": self.object_key,
            "action": self.action,
            "actor_id": self.actor_id,
            "actor_username": self.actor_username,
            "reason": self.reason,
            "changes": self.changes,
            "ticket_id": self.ticket_id,
        }


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not configured"


class Notification(models.Model):
    """One notice about one event: recorded with the event, sent after commit."""

    event = models.CharField(max_length=80, db_index=True)
    ticket = models.ForeignKey(
        "tickets.ChangeTicket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    webhook_status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.SKIPPED
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Webhook attempts.")
    webhook_queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the webhook post was last handed to the broker."
    )
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.event}: {self.subject}"


class IdempotentReply(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key` header, so a retry (the reply was
    lost with a worker) gets that answer instead of doing the change twice. Scoped to the user and
    the endpoint; expires after IDEMPOTENCY_KEY_TTL seconds."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    endpoint = models.CharField(max_length=255)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of the request body")
    status_code = models.PositiveSmallIntegerField(default=0)
    body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "endpoint", "key"], name="one_reply_per_idempotency_key"
            )
        ]

    def __str__(self):
        return f"{self.endpoint} {self.key}"
