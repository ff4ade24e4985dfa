"""Ticket use cases. Web views, the API, commands and Celery tasks all call these: one path, one
set of guards. Each locks the ticket row, re-checks permission and guards inside the transaction,
and writes the history row with the acting user and the reason.
"""

import math

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.dispatch import Signal

from changemgmt import clock, roles
from changemgmt.audit.recording import delete_audited, save_audited, system_user
from changemgmt.catalog.models import RiskTier

from . import rules
from .guards import refusals
from .models import (
    CHECKLIST_ITEMS,
    CONTENT_FIELDS,
    TRANSITIONS,
    ChangeTicket,
    Decision,
    EvalDelta,
    State,
    Vote,
    next_change_id,
)

# Sent after a transition is saved (inside the transaction): rollouts, notifications and the
# gateway policy listen here so tickets never imports them. Receivers that do outside work must
# defer it with transaction.on_commit.
ticket_transitioned = (
    Signal()
)  # sender=ChangeTicket, ticket, transition, acting_user, reason, source
vote_recorded = Signal()  # sender=Vote, vote, acting_user

REASON_REQUIRED = {"halt", "roll_back", "cancel", "request_changes", "reject"}

# A transition may carry its own inputs (planned_start/slot_ends_at for schedule, review notes for
# close) but never rewrite the ticket's content or its lifecycle bookkeeping: the record the CAB
# approved must not be written through a side door.
NOT_TRANSITION_INPUTS = set(CONTENT_FIELDS) | {
    "id",
    "pk",
    "change_id",
    "state",
    "author",
    "author_id",
    "feature",
    "release_manager",
    "cab_round",
    "standard_change",
    "retrospective_due",
    "approved_fingerprint",
    "approved_at",
    "submitted_at",
    "created_at",
}


# Whether a promotion takes the ramp's last stage is known above tickets (rollouts keeps the
# stages). That app registers `check(ticket) -> bool` here; a promote without `final=` (the API's
# `POST …/promote/`) asks it, so every path deploys at the last stage.
_final_stage_checks: list = []


def register_final_stage_check(check):
    if check not in _final_stage_checks:
        _final_stage_checks.append(check)
    return check


class TransitionRefused(Exception):
    """The state or a guard refuses the transition; `reasons` is [(guard name, sentence)]."""

    def __init__(self, transition: str, reasons: list[tuple[str, str]]):
        self.transition = transition
        self.reasons = reasons
        super().__init__("; ".join(reason for _, reason in reasons))

    @property
    def guard(self) -> str:
        return self.reasons[0][0] if self.reasons else ""

    @property
    def message(self) -> str:
        return str(self)


def _lock(ticket_or_pk) -> ChangeTicket:
    pk = ticket_or_pk.pk if isinstance(ticket_or_pk, ChangeTicket) else ticket_or_pk
    return ChangeTicket.objects.select_for_update().select_related("feature").get(pk=pk)


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


# Guards on what the caller types in with the transition (a reason, a planned start, review
# notes), not on the ticket: they cannot refuse before the input is given.
# The window rule on schedule judges the planned start given with it: a scheduled ticket whose
# booked slot has passed may still be booked again.
INPUT_GUARDS = {
    "reason_is_given",
    "planned_start_is_set",
    "planned_start_is_in_an_open_window",
    "review_notes_are_written",
}


def available_transitions(ticket, user) -> list[str]:
    """The transitions `user` may take on `ticket` right now (state, role and guards), given the
    input each one asks for (reason, planned start, review notes)."""
    return [
        name
        for name in TRANSITIONS
        if all(guard in INPUT_GUARDS for guard, _ in transition_refusals(ticket, name, user))
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
    ticket = _lock(ticket)
    reason = (reason or "").strip()
    ticket._transition_reason = reason
    final = params.pop("final", None)
    if name == "promote" and final is None:
        final = any(check(ticket) for check in _final_stage_checks)
    model_fields = {f.name for f in ChangeTicket._meta.concrete_fields}
    if "planned_start" in params and "slot_ends_at" not in params:
        params["slot_ends_at"] = None  # a new start ends a slot booked before (rebooking)
    for field, value in params.items():
        if field in NOT_TRANSITION_INPUTS or field not in model_fields:
            raise TypeError(f"{field!r} is not an input of a ticket transition.")
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


# ----- filing and editing -----

TICKET_FIELDS = (
    "title",
    "summary",
    "feature",
    "release_manager",
    "risk_tier",
    "classification",
    "rollback_plan",
    "kill_switch",
    "users_affected",
    "regions",
    "max_traffic_percent",
    "pr_url",
    "prompt_version",
    "candidate_model",
    "model_card_url",
    "risk_review_ticket",
    "planned_start",
    "bridge_url",
    "bridge",
    "paging_list",
    "emergency",
    "emergency_justification",
    "eval_regression_justification",
)


def _apply(ticket, data: dict):
    for field in TICKET_FIELDS:
        if field in data:
            setattr(ticket, field, data[field])


def _list_of_strings_problem(value, *, max_items=100, max_chars=254):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return "Give a list of strings."
    if len(value) > max_items:
        return f"At most {max_items} entries."
    if any(len(item) > max_chars or not item.strip() for item in value):
        return f"Entries must be non-empty and at most {max_chars} characters."
    return None


def _validate(ticket):
    problems = {}
    try:
        ticket.full_clean(exclude=["state", "change_id", "author"])
    except ValidationError as error:
        problems.update(error.message_dict)
    for field in ("regions", "bridge", "paging_list"):
        problem = _list_of_strings_problem(getattr(ticket, field))
        if problem:
            problems.setdefault(field, []).append(problem)
    if "paging_list" not in problems:
        for address in ticket.paging_list:
            try:
                validate_email(address)
            except ValidationError:
                problems.setdefault("paging_list", []).append(f"{address!r} is not an email.")
    if "bridge" not in problems and ticket.bridge:
        known = set(
            get_user_model()
            .objects.filter(username__in=ticket.bridge)
            .values_list("username", flat=True)
        )
        unknown = [name for name in ticket.bridge if name not in known]
        if unknown:
            problems["bridge"] = ["Unknown user(s): " + ", ".join(unknown) + "."]
    if ticket.release_manager_id and not roles.has_role(
        ticket.release_manager, roles.RELEASE_MANAGER
    ):
        problems["release_manager"] = [f"{ticket.release_manager} is not a release manager."]
    if ticket.kill_switch and rules.parse_kill_switch(ticket.kill_switch) is None:
        problems.setdefault("kill_switch", []).append(
            "Use feature:<slug>, model:<id> or tenant:<id>."
        )
    elif ticket.kill_switch and not rules.kill_switch_exists(ticket.kill_switch):
        problems.setdefault("kill_switch", []).append(
            f"Kill switch {ticket.kill_switch} does not exist."
        )
    if ticket.feature_id and ticket.risk_tier in RiskTier.values:
        feature_tier = ticket.feature.risk_tier
        if RiskTier.rank(ticket.risk_tier) < RiskTier.rank(feature_tier):
            problems.setdefault("risk_tier", []).append(
                f"The tier may be raised, never lowered below the feature's {feature_tier}."
            )
    if problems:
        raise ValidationError(problems)


def clean_eval_deltas(rows) -> list[dict]:
    """Check eval rows (metric, baseline, candidate[, higher_is_better]): finite numbers, one
    row per metric. Raises ValidationError({"eval_deltas": [...]}) naming the bad row."""
    cleaned, seen, problems = [], set(), []
    for index, row in enumerate(rows):
        metric = str(row.get("metric", "")).strip()
        if not metric or len(metric) > 80:
            problems.append(f"Row {index + 1}: a metric name of 1-80 characters is required.")
            continue
        if metric in seen:
            problems.append(f"Row {index + 1}: {metric} is listed twice.")
            continue
        seen.add(metric)
        values = {}
        for key in ("baseline", "candidate"):
            value = row.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"Row {index + 1}: {key} of {metric} must be a number.")
            elif not math.isfinite(value):
                problems.append(f"Row {index + 1}: {key} of {metric} must be a finite number.")
            else:
                values[key] = float(value)
        if len(values) == 2:
            cleaned.append(
                {
                    "metric": metric,
                    **values,
                    "higher_is_better": bool(row.get("higher_is_better", True)),
                }
            )
    if problems:
        raise ValidationError({"eval_deltas": problems})
    return cleaned


def _replace_eval_deltas(ticket, rows, acting_user, reason):
    existing = {d.metric: d for d in ticket.eval_deltas.all()}
    wanted = {row["metric"]: row for row in rows}
    for metric, delta in existing.items():
        if metric not in wanted:
            delete_audited(delta, acting_user=acting_user, reason=reason)
    for metric, row in wanted.items():
        delta = existing.get(metric) or EvalDelta(ticket=ticket, metric=metric)
        changed = delta.pk is None or any(
            getattr(delta, key) != row.get(key, getattr(delta, key))
            for key in ("baseline", "candidate", "higher_is_better")
        )
        delta.baseline = row["baseline"]
        delta.candidate = row["candidate"]
        delta.higher_is_better = row.get("higher_is_better", True)
        if changed:
            delta.full_clean(exclude=["ticket"])
            save_audited(delta, acting_user=acting_user, reason=reason)


def _populate_from_feature(ticket, data):
    """What the caller left out comes from the feature: Low-tier tickets filed by a CI pipeline
    are mostly auto-populated (the article). Only absent keys are filled, never blank answers."""
    feature = ticket.feature
    if not data.get("risk_tier"):
        ticket.risk_tier = feature.risk_tier  # inherited; may be raised, never lowered
    if "kill_switch" not in data:
        ticket.kill_switch = f"feature:{feature.slug}"
    if "users_affected" not in data:
        ticket.users_affected = feature.users_served
    if "regions" not in data:
        ticket.regions = list(feature.regions or [])


@transaction.atomic
def ticket_create(
    *, acting_user, data: dict, eval_deltas=(), reason: str = "filed"
) -> ChangeTicket:
    """File a draft ticket. `data` holds model values (feature and release_manager as objects)."""
    if not roles.has_role(acting_user, roles.AUTHOR):
        raise PermissionDenied("Only an author may file a change ticket.")
    ticket = ChangeTicket(author=acting_user)
    _apply(ticket, data)
    if ticket.feature_id:
        _populate_from_feature(ticket, data)
    _validate(ticket)
    rows = clean_eval_deltas(list(eval_deltas))
    # The number is claimed only once the input is valid, inside this transaction: a refused
    # filing consumes no change ID (the counter row rolls back with everything else).
    ticket.change_id = next_change_id(clock.now().year)
    save_audited(ticket, acting_user=acting_user, reason=reason)
    _replace_eval_deltas(ticket, rows, acting_user, reason)
    return ticket


class TicketFrozen(Exception):
    """After approval the ticket's fields are frozen: a change needs a new ticket."""


def ticket_check_editable(ticket, *, acting_user):
    """Raise PermissionDenied unless `acting_user` is the author, TicketFrozen unless a draft."""
    if acting_user is None or ticket.author_id != acting_user.pk:
        raise PermissionDenied("Only the ticket's author may edit it.")
    if not ticket.is_editable:
        raise TicketFrozen(
            f"{ticket.change_id} is {ticket.get_state_display().lower()}: fields are frozen after "
            "submission and approval; withdraw it (if submitted) or file a new ticket."
        )


@transaction.atomic
def ticket_update(ticket, *, acting_user, data: dict, eval_deltas=None, reason: str = "edited"):
    ticket = _lock(ticket)
    ticket_check_editable(ticket, acting_user=acting_user)
    _apply(ticket, data)
    _validate(ticket)
    rows = clean_eval_deltas(list(eval_deltas)) if eval_deltas is not None else None
    save_audited(ticket, acting_user=acting_user, reason=reason)
    if rows is not None:
        _replace_eval_deltas(ticket, rows, acting_user, reason)
    return ticket


# ----- CAB -----


class VoteRefused(Exception):
    def __init__(self, message, field=None):
        self.field = field
        super().__init__(message)


def seats_of(user) -> list[str]:
    return [seat for seat in roles.CAB_SEATS if roles.has_role(user, seat)]


@transaction.atomic
def vote_cast(
    ticket,
    *,
    acting_user,
    decision: str,
    comment: str = "",
    checklist: dict | None = None,
    seat: str | None = None,
) -> Vote:
    """Record a CAB vote and apply its consequence: request changes, reject, or (on quorum)
    approve. Two seats voting at once serialize on the ticket row, so approval happens once."""
    ticket = _lock(ticket)
    checklist = {item: bool((checklist or {}).get(item)) for item in CHECKLIST_ITEMS}
    comment = (comment or "").strip()
    retrospective = ticket.retrospective_due and ticket.state != State.SUBMITTED
    my_seats = seats_of(acting_user)
    if not my_seats:
        raise PermissionDenied("Only a CAB seat may vote.")
    if ticket.author_id == acting_user.pk:
        raise PermissionDenied("The author cannot vote on their own ticket.")
    if seat is None:
        needed = [s for s in rules.quorum_missing_seats(ticket) if s in my_seats]
        seat = needed[0] if needed else my_seats[0]
    if seat not in my_seats:
        raise PermissionDenied(f"You do not hold the {seat} seat.")
    if decision not in Decision.values:
        raise VoteRefused(f"Unknown decision '{decision}'.", field="decision")
    if not retrospective and ticket.state != State.SUBMITTED:
        raise TransitionRefused(
            "vote", [("state", f"Only a submitted ticket is voted on; this one is {ticket.state}.")]
        )
    if decision != Decision.APPROVE and not comment:
        raise VoteRefused("A comment is required to request changes or reject.", field="comment")
    if decision == Decision.APPROVE and not all(checklist.values()):
        missing = [CHECKLIST_ITEMS[k] for k, v in checklist.items() if not v]
        raise VoteRefused(
            "Tick every checklist item to approve: " + "; ".join(missing) + ".", field="checklist"
        )
    others = [
        v
        for s, v in rules.current_votes(ticket).items()
        if s != seat and v.voter_id == acting_user.pk
    ]
    if others and not retrospective:
        raise VoteRefused(
            f"You already hold the {others[0].seat} seat on this ticket; one person fills one seat."
        )
    vote = Vote(
        ticket=ticket,
        voter=acting_user,
        seat=seat,
        decision=decision,
        comment=comment,
        checklist=checklist,
        round=ticket.cab_round,
        retrospective=retrospective,
    )
    save_audited(vote, acting_user=acting_user, reason=f"CAB vote: {decision}")
    vote_recorded.send(sender=Vote, vote=vote, acting_user=acting_user)
    if retrospective:
        if decision == Decision.APPROVE:
            ticket.retrospective_due = False
            save_audited(
                ticket, acting_user=acting_user, reason="retrospective CAB review recorded"
            )
        return vote
    if decision == Decision.REQUEST_CHANGES:
        ticket_transition(ticket, "request_changes", acting_user=acting_user, reason=comment)
    elif decision == Decision.REJECT:
        ticket_transition(ticket, "reject", acting_user=acting_user, reason=comment)
    elif not rules.quorum_missing_seats(ticket):
        ticket_transition(
            ticket, "approve", acting_user=system_user(), reason="CAB quorum approved"
        )
    return vote
