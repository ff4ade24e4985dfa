"""A ticket's timeline: every history row of the ticket and its votes and eval rows, in order.

Interim version over simple-history; the audit app's hash-chained records replace it.
"""

from django.db.models import Q


def ticket_timeline(ticket) -> list[dict]:
    from changemgmt.tickets.models import ChangeTicket, EvalDelta, Vote

    entries = []
    for model, query in (
        (ChangeTicket, Q(id=ticket.pk)),
        (Vote, Q(ticket_id=ticket.pk)),
        (EvalDelta, Q(ticket_id=ticket.pk)),
    ):
        for row in model.history.filter(query).select_related("history_user"):
            entries.append(
                {
                    "at": row.history_date,
                    "kind": model._meta.verbose_name,
                    "action": {"+": "created", "~": "changed", "-": "deleted"}[row.history_type],
                    "user": row.history_user.username if row.history_user else "system",
                    "reason": row.history_change_reason or "",
                    "summary": str(row.instance),
                }
            )
    entries.sort(key=lambda e: e["at"])
    return entries
