"""Notices of a ticket's lifecycle: who hears of which transition, and what the message says.

The notice is recorded and delivered by `changemgmt.audit.notify` (the floor: it knows nothing of
tickets); this module, above it, decides what a transition is worth telling and to whom.
"""

from django.contrib.auth import get_user_model

from changemgmt.audit.notify import notify

from .transition_table import TABLE

# Transition -> the word in its notice (the table's `notice`; the others send none).
NOTIFIED_TRANSITIONS = {t.name: t.notice for t in TABLE if t.notice}


def ticket_recipients(ticket) -> list[str]:
    """The paging list, the release manager, the author and the people on the bridge."""
    addresses = list(ticket.paging_list or [])
    for user in (ticket.release_manager, ticket.author):
        if user is not None and user.email:
            addresses.append(user.email)
    bridge = [name for name in ticket.bridge or [] if isinstance(name, str)]
    if bridge:
        addresses += (
            get_user_model()
            .objects.filter(username__in=bridge)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    return addresses


def on_ticket_transitioned(sender, *, ticket, transition, acting_user, reason, source, **kwargs):
    label = NOTIFIED_TRANSITIONS.get(transition)
    if label is None:
        return
    actor = acting_user.get_username() if acting_user else "system"
    lines = [
        f"{ticket.change_id} {label} by {actor}: {ticket.title}",
        f"State: {source} → {ticket.state}",
        f"Feature: {ticket.feature.slug} · tier {ticket.risk_tier} · kill switch {ticket.kill_switch}",
    ]
    if reason:
        lines.append(f"Reason: {reason}")
    notify(
        f"ticket.{transition}",
        subject=f"{ticket.change_id} {label}: {ticket.title}",
        body="\n".join(lines),
        recipients=ticket_recipients(ticket),
        ticket=ticket,
        payload={
            "change_id": ticket.change_id,
            "transition": transition,
            "from": source,
            "to": ticket.state,
            "actor": actor,
            "reason": reason,
        },
    )


def connect_ticket_notifications():
    from .services import ticket_transitioned

    ticket_transitioned.connect(on_ticket_transitioned, dispatch_uid="audit_ticket_notifications")
