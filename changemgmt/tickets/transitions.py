"""Ticket transitions: the one path every state change takes (web views, the API, commands and
Celery tasks). It locks the ticket row, re-checks permission and guards inside the transaction,
and writes the history row with the acting user and the reason.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from changemgmt.audit.recording import save_audited
from changemgmt.refusals import TransitionRefused

from . import rules, transition_table, window_rules
from .guards import refusals
from .models import TRANSITIONS, ChangeTicket, State

# Sent after a transition is saved (inside the transaction): rollouts, notifications and the
# gateway policy listen here so tickets never imports them. Receivers that do outside work must
# defer it with transaction.on_commit.
ticket_transitioned = (
    Signal()
)  # sender=ChangeTicket, ticket, transition, acting_user, reason, source

REASON_REQUIRED = transition_table.names(reason_required=True)


# Whether a promotion takes the ramp's last stage is known above tickets (rollouts keeps the
# stages). That app registers `check(ticket) -> bool` here; a promote without `final=` (the API's
# `POST …/promote/`) asks it, so every path deploys at the last stage.
_final_stage_checks: list = []


def register_final_stage_check(check):
    if check not in _final_stage_checks:
        _final_stage_checks.append(check)
    return check


def lock_ticket(ticket_or_pk) -> ChangeTicket:
    """The ticket's row and its feature's, locked for this transaction (every use case starts here;
    the feature's lock makes two starts on one feature take turns).

    FOR NO KEY UPDATE, not FOR UPDATE: it still excludes every other use case on the ticket or the
    feature, but not the foreign-key checks of rows that merely point at them (a vote, an eval row,
    a sample, a new ticket on the feature). Those checks run at COMMIT, after the audit chain's
    lock is taken; under FOR UPDATE they waited on a transition that was itself waiting on the
    chain: a deadlock (seen as 503s under the flips benchmark's filing and voting load)."""
    pk = ticket_or_pk.pk if isinstance(ticket_or_pk, ChangeTicket) else ticket_or_pk
    return ChangeTicket.objects.select_for_update(no_key=True).select_related("feature").get(pk=pk)


def _transition_meta(ticket, name):
    method = getattr(ticket, name)
    return method, method._django_fsm


def transition_refusals(ticket, name: str, user) -> list[tuple[str, str]]:
    """Why `user` may not take `name` on `ticket` now: [] when they may."""
    if name not in TRANSITIONS:
        return [("unknown_transition", f"Unknown transition '{name}'.")]
    method, meta = _transition_meta(ticket, name)
    if not meta.has_transition(ticket.state):
        label = State(ticket.state).label.lower()
        return [("state", f"A {label} ticket cannot {name.replace('_', ' ')}.")]
    if not meta.has_transition_perm(ticket, ticket.state, user):
        return [("permission", rules.PERMISSION_REASONS[name])]
    conditions = meta.get_transition(ticket.state).conditions
    return refusals(conditions, ticket)


def available_transitions(ticket, user) -> list[str]:
    """The transitions `user` may take on `ticket` right now (state, role and guards), given the
    input each one asks for (reason, planned start, review notes): a guard on that input
    (`Transition.input_guards`) cannot refuse before the input is given."""
    return [
        t.name
        for t in transition_table.TABLE
        if all(guard in t.input_guards for guard, _ in transition_refusals(ticket, t.name, user))
    ]


def offered_transitions(ticket, user) -> dict[str, list[str]]:
    """Transitions this user's role could take from this state: name -> refusal sentences (empty
    when allowed now). The ticket page shows these, with the reason for a refused one."""
    offered = {}
    for name in TRANSITIONS:
        method, meta = _transition_meta(ticket, name)
        if not meta.has_transition(ticket.state) or name == "approve":
            continue
        if not meta.has_transition_perm(ticket, ticket.state, user):
            continue
        conditions = meta.get_transition(ticket.state).conditions
        offered[name] = [reason for _, reason in refusals(conditions, ticket)]
    return offered


@transaction.atomic
def ticket_transition(
    ticket, name: str, *, acting_user, reason: str = "", **params
) -> ChangeTicket:
    """Take transition `name` as `acting_user`. Raises PermissionDenied or TransitionRefused."""
    if name not in TRANSITIONS:
        raise TransitionRefused(name, [("unknown_transition", f"Unknown transition '{name}'.")])
    ticket = lock_ticket(ticket)
    reason = (reason or "").strip()
    ticket._transition_reason = reason
    final = params.pop("final", None)
    if name == "promote" and final is None:
        final = any(check(ticket) for check in _final_stage_checks)
    if "planned_start" in params and "slot_ends_at" not in params:
        # A new start ends a slot booked before (rebooking); the window rules say where the new one
        # ends, saved with it (one save, whichever page or API booked it).
        params["slot_ends_at"] = window_rules.slot_end(ticket, params["planned_start"])
    # Only the inputs the transition declares (planned_start for schedule, review notes for close):
    # never the ticket's content or its lifecycle bookkeeping, so the record the CAB approved is
    # not written through a side door.
    accepted = transition_table.BY_NAME[name].inputs
    for field, value in params.items():
        if field not in accepted:
            raise TypeError(f"{field!r} is not an input of the {name} transition.")
        setattr(ticket, field, value)
    method, meta = _transition_meta(ticket, name)
    if meta.has_transition(ticket.state) and not meta.has_transition_perm(
        ticket, ticket.state, acting_user
    ):
        raise PermissionDenied(rules.PERMISSION_REASONS[name])
    found = transition_refusals(ticket, name, acting_user)
    if found:
        raise TransitionRefused(name, found)
    source = ticket.state
    method(**({"final": final} if name == "promote" else {}))
    if reason:
        ticket.last_reason = reason
    label = f"{name}: {reason}" if reason else name
    save_audited(ticket, acting_user=acting_user, reason=label)
    ticket_transitioned.send(
        sender=ChangeTicket,
        ticket=ticket,
        transition=name,
        acting_user=acting_user,
        reason=reason,
        source=source,
    )
    return ticket


@transaction.atomic
def ticket_schedule(ticket, *, acting_user, planned_start, reason: str = ""):
    """Book `ticket` at `planned_start` (or move its slot): the one schedule path of the ticket
    page, the window picker and the API. The schedule transition saves the slot's end with the
    start (the window rules say where it ends: the close of that window, cut short by a freeze;
    emergency: a fixed length); without a reason the record names the booking. Returns (ticket,
    warnings): what the release manager should hear (someone already on another bridge then,
    the ramp's projection). Raises PermissionDenied or TransitionRefused, with nothing saved."""
    if timezone.is_naive(planned_start):
        raise ValueError("planned_start must be aware")
    warnings = window_rules.booking_warnings(ticket, acting_user, planned_start)
    ticket = ticket_transition(
        ticket,
        "schedule",
        acting_user=acting_user,
        reason=reason or window_rules.booking_reason(planned_start),
        planned_start=planned_start,
    )
    return ticket, warnings
