"""Filing and editing a ticket: validation of its fields, eval deltas, and the author's edits
while it is a draft. Both re-validate inside the transaction, whatever form or serializer ran.
"""

import math

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction

from changemgmt import clock, roles
from changemgmt.audit.recording import delete_audited, save_audited
from changemgmt.catalog.models import RiskTier
from changemgmt.refusals import TicketFrozen

from . import rules
from .models import ChangeTicket, EvalDelta, next_change_id
from .transitions import lock_ticket

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


def bridge_problem(usernames) -> str | None:
    """The people on the bridge are users (by username): the one check the form, the serializer
    and filing share."""
    if not usernames:
        return None
    known = set(
        get_user_model().objects.filter(username__in=usernames).values_list("username", flat=True)
    )
    unknown = [name for name in usernames if name not in known]
    return "Unknown username(s): " + ", ".join(unknown) + "." if unknown else None


def paging_problem(addresses) -> str | None:
    """Every paging address is an email address: the one check the form, the serializer and
    filing share."""
    bad = []
    for address in addresses or ():
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    return "Not an email address: " + ", ".join(bad) + "." if bad else None


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
    if "paging_list" not in problems and (problem := paging_problem(ticket.paging_list)):
        problems["paging_list"] = [problem]
    if "bridge" not in problems and (problem := bridge_problem(ticket.bridge)):
        problems["bridge"] = [problem]
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
    elif ticket.kill_switch and (missing := rules.kill_switch_missing(ticket.kill_switch)):
        problems.setdefault("kill_switch", []).append(missing)
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
    if "kill_switch" not in data and getattr(feature, "kill_switch", None) is not None:
        # The feature's own switch (killswitches' one-to-one, read by name); a feature with no
        # switch yet leaves it blank for the author to name, rather than a path nothing backs.
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
    ticket = lock_ticket(ticket)
    ticket_check_editable(ticket, acting_user=acting_user)
    _apply(ticket, data)
    _validate(ticket)
    rows = clean_eval_deltas(list(eval_deltas)) if eval_deltas is not None else None
    save_audited(ticket, acting_user=acting_user, reason=reason)
    if rows is not None:
        _replace_eval_deltas(ticket, rows, acting_user, reason)
    return ticket
