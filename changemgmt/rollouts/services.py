"""Ramp use cases: the plan, the ramp position moved by ticket transitions, health samples,
breaches and "promote now". The sweeper that advances every ramp is in `sweeper.py`.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from changemgmt import clock, roles
from changemgmt.audit.recording import SYSTEM_USERNAME, delete_audited, save_audited
from changemgmt.refusals import TicketFrozen
from changemgmt.tickets import rules
from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket, State
from changemgmt.tickets.services import lock_ticket, ticket_transition

from . import health, prometheus
from .models import (
    Breach,
    FeatureGuardTemplate,
    Guard,
    GuardPolicy,
    HealthSample,
    Ramp,
    RampStage,
    RolloutPolicy,
    SampleSource,
    prometheus_source_problems,
)
from .plans import (
    default_plan,
    fitted_default_plan,
    guard_floor_problems,
    is_a_default_plan,
    plan_of,
    plan_problems,
)

# Like the ticket's fields, the plan the CAB reviews is frozen once submitted: the author withdraws
# the ticket to change it, and the CAB votes again in a new round.
PLAN_EDITABLE_STATES = {State.DRAFT}
PLAN_FROZEN = (
    "The ramp plan is frozen once the ticket is submitted: withdraw it to change the plan (the CAB "
    "then votes again); after approval a change needs a new ticket."
)
PLAN_FROZEN_GUARD = "plan_frozen_after_submission"
ACKNOWLEDGEMENT_NOTE_MAX = 5000


# ----- plan -----


def ramp_plan_create_default(ticket, *, acting_user) -> None:
    """Give a new ticket its tier's default plan and guards (called when the ticket is filed)."""
    reason = f"default ramp plan for the {ticket.risk_tier} tier"
    if not ticket.ramp_stages.exists():
        plan = fitted_default_plan(ticket)
        if plan != default_plan(ticket.risk_tier):
            reason += f", fitted to the ticket's {ticket.max_traffic_percent}% cap"
        _stages_replace(ticket, plan, acting_user=acting_user, reason=reason)
    if not ticket.guards.exists():
        feature_queries = dict(
            FeatureGuardTemplate.objects.filter(feature_id=ticket.feature_id).values_list(
                "metric", "query"
            )
        )
        for policy in GuardPolicy.for_tier(ticket.risk_tier):
            save_audited(
                Guard.from_policy(ticket, policy, feature_queries.get(policy.metric, "")),
                acting_user=acting_user,
                reason=reason,
            )
    if not Ramp.objects.filter(ticket=ticket).exists():
        save_audited(Ramp(ticket=ticket), acting_user=acting_user, reason=reason)


def _lock_ticket(ticket) -> ChangeTicket:
    return lock_ticket(ticket)  # FOR NO KEY UPDATE of the ticket and its feature: see there


def ramp_plan_check_editable(ticket, *, acting_user) -> None:
    """PermissionDenied unless `acting_user` is the author; TicketFrozen unless a draft."""
    if acting_user is None or ticket.author_id != acting_user.pk:
        raise PermissionDenied("Only the ticket's author may edit its ramp plan.")
    if ticket.state not in PLAN_EDITABLE_STATES:
        raise TicketFrozen(PLAN_FROZEN, guard=PLAN_FROZEN_GUARD)


@transaction.atomic
def ramp_plan_update(
    ticket, *, acting_user, plan: list[dict], guards: list[dict] | None = None, reason=""
) -> ChangeTicket:
    """Replace the plan (and optionally the guards) of a draft: ValidationError naming the rules
    it breaks, PermissionDenied for anyone but the author, TicketFrozen once submitted."""
    ticket = _lock_ticket(ticket)
    ramp_plan_check_editable(ticket, acting_user=acting_user)
    problems = plan_problems(plan, ticket, RolloutPolicy.current().region_rings)
    if problems:
        raise ValidationError({"plan": problems})
    reason = reason or "ramp plan edited"
    _stages_replace(ticket, plan, acting_user=acting_user, reason=reason)
    _guards_update(ticket, guards or [], acting_user=acting_user, reason=reason)
    return ticket


def _stages_replace(ticket, plan: list[dict], *, acting_user, reason) -> None:
    existing = {s.index: s for s in ticket.ramp_stages.all()}
    for index, wanted in enumerate(plan):
        stage = existing.pop(index, None) or RampStage(ticket=ticket, index=index)
        fields = ("percent", "bake_minutes", "tenant_segments", "regions", "cohorts")
        if stage.pk is None or any(getattr(stage, f) != wanted[f] for f in fields):
            for field in fields:
                setattr(stage, field, wanted[field])
            save_audited(stage, acting_user=acting_user, reason=reason)
    for stale in existing.values():
        delete_audited(stale, acting_user=acting_user, reason=reason)


def ramp_plan_refit_default(ticket, *, acting_user) -> None:
    """A draft whose blast radius was edited keeps a default plan that fits it: the tier's default
    (as filed, or fitted to an earlier cap) is fitted again. A plan the author wrote is left for
    the plan form and `submit` to judge (ramp_plan_is_valid names the stage over the cap)."""
    if ticket.state not in PLAN_EDITABLE_STATES:
        return
    plan, wanted = plan_of(ticket), fitted_default_plan(ticket)
    if not plan or plan == wanted or not is_a_default_plan(plan, ticket.risk_tier):
        return
    _stages_replace(
        ticket,
        wanted,
        acting_user=acting_user,
        reason=f"default ramp plan fitted to the ticket's {ticket.max_traffic_percent}% cap",
    )


def _guards_update(ticket, rows: list[dict], *, acting_user, reason) -> None:
    """Apply guard rows, all or nothing: each keeps its own order, and together the tier's floor."""
    current = {g.metric: g for g in ticket.guards.all()}
    changed = []
    for row in rows:
        guard = current.get(row["metric"]) or Guard(ticket=ticket, metric=row["metric"])
        guard.threshold = row["threshold"]
        guard.severe_threshold = row.get("severe_threshold")
        guard.observe_only = bool(row.get("observe_only"))
        if "source" in row:
            guard.source = row["source"] or SampleSource.PUSH
            guard.query = row.get("query") or "" if guard.reads_prometheus else ""
        if guard.severe_threshold is not None and guard.severe_threshold < guard.threshold:
            raise ValidationError(
                {"guards": f"{guard.metric}: the severe threshold is below the threshold."}
            )
        problems = prometheus_source_problems(guard.source, guard.query)
        if problems:
            raise ValidationError(
                {"guards": [f"{guard.metric}: {p}" for ps in problems.values() for p in ps]}
            )
        current[guard.metric] = guard
        changed.append(guard)
    policies = {p.metric: p for p in GuardPolicy.for_tier(ticket.risk_tier)}
    problems = guard_floor_problems(ticket.risk_tier, current, policies)
    if problems:
        raise ValidationError({"guards": problems})
    for guard in changed:
        save_audited(guard, acting_user=acting_user, reason=reason)


# ----- ramp position (moved by ticket transitions, whoever took them) -----


def _on_start(ticket, now, acting_user):
    ramp, _ = Ramp.objects.select_for_update().get_or_create(ticket=ticket)
    stage = ticket.ramp_stages.get(index=0)
    stage.entered_at = now
    save_audited(stage, acting_user=acting_user, reason="ramp started")
    ramp.current_index = 0
    ramp.bake_started_at = now
    ramp.inconclusive_notified_index = None
    save_audited(ramp, acting_user=acting_user, reason=f"entered {stage.percent}% stage")


def _on_promote(ticket, now, acting_user, reason):
    ramp = Ramp.objects.select_for_update().get(ticket=ticket)
    stages = list(ticket.ramp_stages.order_by("index"))
    if ramp.current_index >= len(stages) - 1:
        return  # the bookkeeping step into `deployed`: traffic is already at the last stage
    done, entering = stages[ramp.current_index], stages[ramp.current_index + 1]
    done.completed_at = now
    save_audited(done, acting_user=acting_user, reason=reason)
    entering.entered_at = now
    save_audited(entering, acting_user=acting_user, reason=reason)
    ramp.current_index = entering.index
    ramp.bake_started_at = now
    ramp.inconclusive_notified_index = None
    save_audited(ramp, acting_user=acting_user, reason=f"entered {entering.percent}% stage")


def _on_resume(ticket, now, acting_user):
    ramp = Ramp.objects.select_for_update().get(ticket=ticket)
    ramp.bake_started_at = now  # the stage bakes again on fresh samples
    ramp.inconclusive_notified_index = None
    save_audited(ramp, acting_user=acting_user, reason="resumed: the stage bakes again")
    prometheus.reset_probes(ticket)


def _on_roll_back(ticket, now, acting_user, reason):
    stage = health.current_stage(ticket)
    if stage is not None and stage.completed_at is None:
        stage.completed_at = now
        save_audited(stage, acting_user=acting_user, reason=reason)


def on_ticket_transitioned(sender, *, ticket, transition, acting_user, reason, **kwargs):
    now = clock.now()
    if transition == "start":
        _on_start(ticket, now, acting_user)
    elif transition == "promote":
        _on_promote(ticket, now, acting_user, f"promote: {reason}" if reason else "promote")
    elif transition == "resume":
        _on_resume(ticket, now, acting_user)
    elif transition == "roll_back":
        _on_roll_back(ticket, now, acting_user, f"roll back: {reason}")


# ----- health samples and breaches -----


SAMPLE_POSTERS_ONLY = (
    "Only observability accounts (the observability group) may post health samples: they drive "
    "promotion, so nobody else may invent them."
)


def may_post_samples(user) -> bool:
    """Observability accounts; None or the system account for in-process collectors."""
    if user is None or user.username == SYSTEM_USERNAME:
        return True
    return roles.has_role(user, roles.OBSERVABILITY)


class SampleRefused(Exception):
    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__(str(errors))


@dataclass
class SamplesRecorded:
    stored: list[HealthSample]
    duplicates: int  # samples already on record (or repeated within the post): nothing changed


def _identity(sample: HealthSample) -> tuple:
    if sample.idempotency_key:
        return ("key", sample.idempotency_key)
    return ("observation", sample.metric, sample.observed_at)


def _identities_on_record(ticket, rows: list[HealthSample], source: str) -> set[tuple]:
    keys = [r.idempotency_key for r in rows if r.idempotency_key]
    times = {r.observed_at for r in rows if not r.idempotency_key}
    on_record = HealthSample.objects.filter(ticket=ticket)
    found = {
        ("key", key)
        for key in on_record.filter(idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    }
    found |= {
        ("observation", metric, observed_at)
        for metric, observed_at in on_record.filter(
            idempotency_key="", source=source, observed_at__in=times
        ).values_list("metric", "observed_at")
    }
    return found


def samples_record(
    ticket, *, acting_user, samples: list[dict], source: str = SampleSource.PUSH
) -> SamplesRecorded:
    """Store validated samples ({metric, value, observed_at[, idempotency_key]}) for a ramping or
    halted ticket. All or nothing; a sample already on record is skipped and counted as a
    duplicate (see HealthSample: a retried post must not count twice).

    The ticket row is not locked: samples are high-volume and must not queue behind the sweeper;
    each sample is filed under the stage that carried traffic when observed.
    """
    if not may_post_samples(acting_user):
        raise PermissionDenied(SAMPLE_POSTERS_ONLY)
    ticket = ChangeTicket.objects.get(pk=ticket.pk)
    if ticket.state not in ACTIVE_RAMP_STATES:
        raise SampleRefused(
            {"non_field_errors": [f"{ticket.change_id} is {ticket.state}, not ramping or halted."]}
        )
    entries = list(
        ticket.ramp_stages.exclude(entered_at=None)
        .order_by("index")
        .values_list("index", "entered_at")
    )
    now = clock.now()
    rows, errors = [], {}
    for i, sample in enumerate(samples):
        index = None
        for stage_index, entered_at in entries:
            if entered_at <= sample["observed_at"]:
                index = stage_index
        if index is None:
            errors[str(i)] = {"observed_at": ["Observed before the ramp started."]}
            continue
        rows.append(
            HealthSample(
                ticket=ticket,
                stage_index=index,
                metric=sample["metric"],
                value=sample["value"],
                observed_at=sample["observed_at"],
                received_at=now,
                posted_by=acting_user,
                source=source,
                idempotency_key=sample.get("idempotency_key") or "",
            )
        )
    if errors:
        raise SampleRefused(errors)
    seen = _identities_on_record(ticket, rows, source)
    fresh = []
    for row in rows:
        if _identity(row) not in seen:
            seen.add(_identity(row))
            fresh.append(row)
    # HealthSample keeps no history (immutable measurements), so a bulk insert is fine here;
    # ignore_conflicts covers the same post arriving twice at once (the unique constraints).
    HealthSample.objects.bulk_create(fresh, ignore_conflicts=True)
    return SamplesRecorded(stored=fresh, duplicates=len(rows) - len(fresh))


@transaction.atomic
def breach_acknowledge(breach, *, acting_user, note: str) -> Breach:
    """The release manager has looked: `note` says what was found (required; it is the timeline's
    answer to "why was it safe to resume?"). A second acknowledgement changes nothing."""
    breach = Breach.objects.select_for_update().select_related("ticket").get(pk=breach.pk)
    if not rules.may_release(breach.ticket, acting_user):
        raise PermissionDenied("Only a release manager may acknowledge a breach.")
    if breach.acknowledged_at:
        return breach
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": ["Say what you found: the note is required."]})
    if len(note) > ACKNOWLEDGEMENT_NOTE_MAX:
        raise ValidationError(
            {"note": [f"At most {ACKNOWLEDGEMENT_NOTE_MAX} characters ({len(note)} given)."]}
        )
    breach.acknowledged_by = acting_user
    breach.acknowledged_at = clock.now()
    breach.acknowledgement_note = note
    save_audited(breach, acting_user=acting_user, reason=f"breach acknowledged: {note}")
    return breach


@transaction.atomic
def rollout_promote_now(ticket, *, acting_user, reason: str = "") -> ChangeTicket:
    """A release manager's "promote now": the same guards as the sweeper's promotion, and the same
    answer to "is this the last stage?" (health.promotion_is_final, asked by the transition)."""
    ticket = _lock_ticket(ticket)
    Ramp.objects.select_for_update().filter(ticket=ticket).first()
    return ticket_transition(
        ticket, "promote", acting_user=acting_user, reason=reason or "promote now"
    )
