"""Ramp use cases: the plan, health samples, breaches, and the sweeper that advances every ramp.

The sweeper (`advance_all` / `rollout_advance`) is what Celery beat runs every minute and what
`manage.py advance_rollouts` runs. Each ramping ticket is claimed with
select_for_update(skip_locked=True) in its own transaction and re-checked ("still due?") after the
lock: a promotion moves `Ramp.current_index` from the value read under the lock and restarts the
bake, so a redelivered tick or a second worker finds nothing due and one bake promotes once.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q

from changemgmt import clock
from changemgmt.audit.notify import notify
from changemgmt.audit.recording import delete_audited, save_audited, system_user
from changemgmt.tickets import rules
from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket, State
from changemgmt.tickets.services import TransitionRefused, ticket_transition

from . import health, windows_bridge
from .models import (
    Breach,
    Guard,
    GuardPolicy,
    HealthSample,
    Metric,
    Ramp,
    RampStage,
    RolloutPolicy,
    SampleSource,
)
from .plans import default_plan, plan_problems

log = logging.getLogger(__name__)

# Like the ticket's fields, the plan the CAB reviews is frozen once submitted: the author withdraws
# the ticket to change it, and the CAB votes again in a new round.
PLAN_EDITABLE_STATES = {State.DRAFT}
PLAN_FROZEN = (
    "The ramp plan is frozen once the ticket is submitted: withdraw it to change the plan (the CAB "
    "then votes again); after approval a change needs a new ticket."
)


# ----- plan -----


def ramp_plan_create_default(ticket, *, acting_user) -> None:
    """Give a new ticket its tier's default plan and guards (called when the ticket is filed)."""
    reason = f"default ramp plan for the {ticket.risk_tier} tier"
    if not ticket.ramp_stages.exists():
        for index, stage in enumerate(default_plan(ticket.risk_tier)):
            save_audited(
                RampStage(ticket=ticket, index=index, **stage),
                acting_user=acting_user,
                reason=reason,
            )
    if not ticket.guards.exists():
        for policy in GuardPolicy.for_tier(ticket.risk_tier):
            save_audited(
                Guard.from_policy(ticket, policy),
                acting_user=acting_user,
                reason=reason,
            )
    if not Ramp.objects.filter(ticket=ticket).exists():
        save_audited(Ramp(ticket=ticket), acting_user=acting_user, reason=reason)


def _lock_ticket(ticket) -> ChangeTicket:
    return ChangeTicket.objects.select_for_update().select_related("feature").get(pk=ticket.pk)


@transaction.atomic
def ramp_plan_update(
    ticket, *, acting_user, plan: list[dict], guards: list[dict] | None = None, reason=""
) -> ChangeTicket:
    """Replace the plan (and optionally the guards) of a draft. ValidationError otherwise."""
    ticket = _lock_ticket(ticket)
    if ticket.author_id != acting_user.pk:
        raise PermissionDenied("Only the ticket's author may edit its ramp plan.")
    if ticket.state not in PLAN_EDITABLE_STATES:
        raise ValidationError({"plan": PLAN_FROZEN})
    problems = plan_problems(plan, ticket, RolloutPolicy.current().region_rings)
    if problems:
        raise ValidationError({"plan": problems})
    reason = reason or "ramp plan edited"
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
    for row in guards or []:
        guard = ticket.guards.filter(metric=row["metric"]).first() or Guard(
            ticket=ticket, metric=row["metric"]
        )
        guard.threshold = row["threshold"]
        guard.severe_threshold = row.get("severe_threshold")
        guard.observe_only = bool(row.get("observe_only"))
        if guard.severe_threshold is not None and guard.severe_threshold < guard.threshold:
            raise ValidationError(
                {"guards": f"{guard.metric}: the severe threshold is below the threshold."}
            )
        save_audited(guard, acting_user=acting_user, reason=reason)
    return ticket


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
def breach_acknowledge(breach, *, acting_user) -> Breach:
    breach = Breach.objects.select_for_update().select_related("ticket").get(pk=breach.pk)
    if not rules.may_release(breach.ticket, acting_user):
        raise PermissionDenied("Only a release manager may acknowledge a breach.")
    if breach.acknowledged_at:
        return breach
    breach.acknowledged_by = acting_user
    breach.acknowledged_at = clock.now()
    save_audited(breach, acting_user=acting_user, reason=f"breach acknowledged: {breach}")
    return breach


def is_final_promotion(ticket) -> bool:
    """Whether promoting `ticket` now enters its last stage (so the ticket becomes deployed).

    Registered with tickets.services so every `promote` — API, ticket page, sweeper — agrees."""
    ramp = Ramp.objects.filter(ticket=ticket).first()
    return ramp is not None and ramp.current_index + 1 >= ticket.ramp_stages.count() - 1


@transaction.atomic
def rollout_promote_now(ticket, *, acting_user, reason: str = "") -> ChangeTicket:
    """A release manager's "promote now": the same guards as the sweeper's promotion."""
    ticket = _lock_ticket(ticket)
    Ramp.objects.select_for_update().filter(ticket=ticket).first()
    final = is_final_promotion(ticket)
    return ticket_transition(
        ticket, "promote", acting_user=acting_user, reason=reason or "promote now", final=final
    )


# ----- the sweeper -----


def _hold(ticket, ramp, stage, now) -> str | None:
    """Bake over without the minimum samples: hold, and tell the release manager once."""
    if ramp.inconclusive_notified_index == ramp.current_index:
        return None  # still held; already told
    ramp.inconclusive_notified_index = ramp.current_index
    save_audited(ramp, acting_user=system_user(), reason="inconclusive: held for samples")
    missing = health.missing_samples(ticket, ramp)
    named = ", ".join(f"{metric} ({count} more)" for metric, count in missing.items())
    rm = ticket.release_manager
    notify(
        "ramp_inconclusive",
        subject=f"{ticket.change_id} held at {stage.percent}%: inconclusive",
        body=(
            f"The {stage.percent}% stage of {ticket.change_id} finished its bake without the "
            f"minimum health samples; inconclusive is not healthy, so it holds. Missing: "
            f"{named}."
        ),
        recipients=[rm.email] if rm else [],
        ticket=ticket,
        payload={"stage": stage.index, "missing": missing},
    )
    return "held: inconclusive"


@transaction.atomic
def rollout_advance(ticket_id: int, now: datetime) -> str | None:
    """Evaluate one ramp as of `now`: roll back, halt, promote, hold, or nothing. Returns what it
    did (for the command's output), or None when the ticket is locked elsewhere or not active."""
    with clock.frozen_at(now):
        ticket = (
            ChangeTicket.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("feature", "release_manager")
            .filter(pk=ticket_id, state__in=ACTIVE_RAMP_STATES)
            .first()
        )
        if ticket is None:
            return None
        ramp = Ramp.objects.select_for_update().filter(ticket=ticket).first()
        if ramp is None or ramp.current_index < 0:
            return None
        stage = ticket.ramp_stages.get(index=ramp.current_index)
        system = system_user()

        # Breaches first: the newest samples decide before any promotion is considered.
        finding = health.worst_finding(ticket, ramp)
        # A halted ramp holds its traffic; only a severe breach still acts on it (roll back).
        if finding and (finding.severe or ticket.state == State.RAMPING):
            already = Breach.objects.filter(
                ticket=ticket, stage=stage, created_at__gte=ramp.bake_started_at
            )
            sentence = (
                f"{finding.guard.metric} {finding.value:g} > {finding.threshold:g} "
                f"at {stage.percent}% stage"
            )
            if not already.filter(severe=finding.severe).exists():
                save_audited(
                    Breach(
                        ticket=ticket,
                        stage=stage,
                        metric=finding.guard.metric,
                        value=finding.value,
                        threshold=finding.threshold,
                        severe=finding.severe,
                        created_at=now,
                    ),
                    acting_user=system,
                    reason=sentence,
                )
            if finding.severe:
                ticket_transition(ticket, "roll_back", acting_user=system, reason=sentence)
                return f"rolled back: {sentence}"
            ticket_transition(ticket, "halt", acting_user=system, reason=sentence)
            return f"halted: {sentence}"
        if ticket.state != State.RAMPING:
            return None

        last = ticket.ramp_stages.count() - 1
        if ramp.current_index < last:
            bake_end = health.bake_ends_at(ticket, ramp)
            if now < bake_end:
                return None
            if health.missing_samples(ticket, ramp):
                return _hold(ticket, ramp, stage, now)
            if windows_bridge.next_promotion_at(ticket, bake_end) > now:
                return None  # waiting for a release window (or a freeze to lift)
        expected = ramp.current_index
        try:
            ticket_transition(
                ticket,
                "promote",
                acting_user=system,
                reason="bake elapsed, samples in, guards healthy",
                final=ramp.current_index + 1 >= last,
            )
        except TransitionRefused as refused:
            return f"held: {refused.message}"
        ramp.refresh_from_db()
        # Compare-and-set: one promotion moves exactly one stage from the index read under lock.
        if ramp.current_index not in (expected + 1, last):
            raise RuntimeError(f"{ticket.change_id}: a promotion moved more than one stage")
        return f"promoted to {ticket.ramp_stages.get(index=ramp.current_index).percent}%"


def due_ticket_ids(now: datetime) -> list[int]:
    """Active ramps that may need action at `now`, in pk order, from three set-wide queries: a
    bake that has ended (or the bookkeeping step into deployed), or a gating guard's threshold
    crossed by a sample in the current window. A ramp mid-bake with healthy samples (most of them,
    most minutes) costs the tick nothing. Only a pre-filter: `rollout_advance` re-checks everything
    under the row lock, and a sample that lands after this read is seen by the next tick."""
    stages = {}
    for ticket_id, index, bake_minutes in RampStage.objects.filter(
        ticket__state__in=ACTIVE_RAMP_STATES
    ).values_list("ticket_id", "index", "bake_minutes"):
        stages.setdefault(ticket_id, {})[index] = bake_minutes
    due = set()
    for ticket_id, state, index, bake_started_at in Ramp.objects.filter(
        ticket__state__in=ACTIVE_RAMP_STATES, current_index__gte=0
    ).values_list("ticket_id", "ticket__state", "current_index", "bake_started_at"):
        plan = stages.get(ticket_id, {})
        if state != State.RAMPING or index not in plan:
            continue
        at_last = index >= max(plan)
        if (
            at_last
            or bake_started_at is None
            or bake_started_at + timedelta(minutes=plan[index]) <= now
        ):
            due.add(ticket_id)
    guard = "ticket__guards__"
    over_threshold = Q(value__gt=F(f"{guard}threshold")) | Q(
        # Drift is a distance: a drop below -threshold breaches too (Guard.measure).
        metric=Metric.EVAL_SCORE_DRIFT,
        value__lt=-F(f"{guard}threshold"),
    )
    # One filter() call, so every guard condition uses the same join (the sample's own guard).
    breaching = (
        HealthSample.objects.filter(
            over_threshold,
            ticket__state__in=ACTIVE_RAMP_STATES,
            stage_index=F("ticket__ramp__current_index"),
            observed_at__gte=F("ticket__ramp__bake_started_at"),
            **{f"{guard}metric": F("metric"), f"{guard}observe_only": False},
        )
        .values_list("ticket_id", flat=True)
        .distinct()
    )
    due.update(breaching)
    return sorted(due)


def advance_all(now: datetime | None = None) -> list[tuple[str, str]]:
    """Sweep every active ramp that may need action, in pk order; each in its own transaction."""
    now = now or clock.now()
    done = []
    for ticket_id in due_ticket_ids(now):
        outcome = rollout_advance(ticket_id, now)
        if outcome:
            change_id = ChangeTicket.objects.values_list("change_id", flat=True).get(pk=ticket_id)
            log.info("%s %s", change_id, outcome)
            done.append((change_id, outcome))
    return done
