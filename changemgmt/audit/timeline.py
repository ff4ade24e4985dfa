"""A ticket's timeline, read from the audit chain: the ticket's history, votes, eval rows, ramp
stage moves, breaches and notifications (every record whose object is the ticket or carries its
`ticket_id`), plus the flips of the ticket's kill switch during the ticket's life, in chain order.

A write to a ticket's content after its ramp started is flagged: the product refuses such writes
(fields freeze at approval), so a flagged entry means the record came from somewhere else.
"""

from collections import Counter
from datetime import timedelta

from django.apps import apps
from django.db.models import Q

from .models import Action, AuditRecord

# Fields the lifecycle itself writes after the ramp starts; anything else is content.
LIFECYCLE_FIELDS = {
    "state",
    "submitted_at",
    "approved_at",
    "started_at",
    "halted_at",
    "deployed_at",
    "rolled_back_at",
    "closed_at",
    "updated_at",
    "last_reason",
    "review_notes",
    "metrics_held",
    "retrospective_due",
    "slot_ends_at",
}
CONTENT_MODELS = {"tickets.changeticket", "tickets.evaldelta"}


def _category(record) -> str:
    label = record.object_model
    if record.object_key:
        return "switch"
    if label == "tickets.changeticket":
        return "ticket"
    if label == "tickets.vote":
        return "vote"
    if label == "tickets.evaldelta":
        return "eval"
    if label == "audit.notification":
        return "notification"
    if "breach" in label:
        return "breach"
    if label.startswith("rollouts."):
        return "ramp"
    return label.split(".")[-1]


def _kind(label: str) -> str:
    try:
        return str(apps.get_model(label)._meta.verbose_name).capitalize()
    except (LookupError, ValueError):
        return label


def written_after_start(record, started_at) -> list[str]:
    """The content fields this record wrote after the ramp started ([] when none)."""
    if started_at is None or record.object_model not in CONTENT_MODELS:
        return []
    if record.created_at <= started_at:
        return []
    if record.object_model == "tickets.evaldelta":
        return [f"eval row {record.object_repr}"]
    if record.action != Action.CHANGED:
        return []
    return sorted(set(record.changes) - LIFECYCLE_FIELDS)


# Records written together (filing writes the ticket, its eval rows, stages, guards and ramp in
# one go) read as one entry, the parts a click away: 13 rows for one act bury the ones that matter.
GROUP_WITHIN = timedelta(seconds=2)
NEVER_GROUPED = {"breach", "switch", "notification", "vote"}


def _joins(head, entry) -> bool:
    return (
        entry["action"] == head["action"] == Action.CREATED.label
        and entry["user"] == head["user"]
        and entry["category"] not in NEVER_GROUPED
        and not entry["flag"]
        and entry["at"] - head["at"] <= GROUP_WITHIN
    )


def group_bookkeeping(entries: list[dict]) -> list[dict]:
    grouped: list[dict] = []
    for entry in entries:
        head = grouped[-1] if grouped else None
        if head is not None and head["category"] not in NEVER_GROUPED and _joins(head, entry):
            head.setdefault("parts", []).append(entry)
            continue
        grouped.append(entry)
    for head in grouped:
        parts = head.get("parts")
        if parts:
            counts = Counter(part["kind"] for part in parts)
            head["parts_summary"] = ", ".join(
                f"{n} {kind.lower()}{'s' if n > 1 else ''}" for kind, n in counts.items()
            )
    return grouped


def ticket_timeline(ticket) -> list[dict]:
    query = Q(ticket_id=ticket.pk)
    if ticket.kill_switch:
        during_life = Q(object_key=ticket.kill_switch, created_at__gte=ticket.created_at)
        ended_at = ticket.closed_at or (ticket.updated_at if ticket.is_terminal else None)
        if ended_at is not None:
            during_life &= Q(created_at__lte=ended_at)
        query |= during_life
    kinds: dict[str, str] = {}
    entries = []
    for record in AuditRecord.objects.filter(query).order_by("seq"):
        kind = kinds.setdefault(record.object_model, _kind(record.object_model))
        flagged = written_after_start(record, ticket.started_at)
        entries.append(
            {
                "seq": record.seq,
                "at": record.created_at,
                "kind": kind,
                "category": _category(record),
                "action": record.action_label,
                "user": record.actor_username or "system",
                "reason": record.reason,
                "summary": record.object_repr,
                "changes": record.changes if record.action == Action.CHANGED else {},
                "flagged_fields": flagged,
                "flag": bool(flagged),
            }
        )
    return entries
