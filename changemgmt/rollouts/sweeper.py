"""The sweeper that advances every ramp.

`advance_all` / `rollout_advance` is what Celery beat runs every minute and what
`manage.py advance_rollouts` runs. Each ramping ticket is claimed with
select_for_update(skip_locked=True) in its own transaction and re-checked ("still due?") after the
lock: a promotion moves `Ramp.current_index` from the value read under the lock and restarts the
bake, so a redelivered tick or a second worker finds nothing due and one bake promotes once.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q

from changemgmt import clock
from changemgmt.audit.notify import notify
from changemgmt.audit.recording import save_audited, system_user
from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket, State
from changemgmt.tickets.services import TransitionRefused, ticket_transition
from changemgmt.windows import policy as windows_policy
from changemgmt.windows.policy import next_promotion_at

from . import health, prometheus
from .models import Breach, HealthSample, Metric, Ramp, RampStage

log = logging.getLogger(__name__)


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


def _late_note(ticket, finding) -> str:
    """' (observed … in the 1% stage, arrived …)' for a sample judged after its own window."""
    if not finding.late:
        return ""
    filed = ticket.ramp_stages.filter(index=finding.stage_index).first()
    where = f" in the {filed.percent}% stage" if filed else ""
    return (
        f" (observed {windows_policy.local_short(finding.observed_at)}{where}, "
        f"arrived {windows_policy.local_short(finding.received_at)})"
    )


def _claim(ticket_id: int):
    """The ticket and its ramp, locked, if the ramp is active and no other worker holds it."""
    ticket = (
        ChangeTicket.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("feature", "release_manager")
        .filter(pk=ticket_id, state__in=ACTIVE_RAMP_STATES)
        .first()
    )
    if ticket is None:
        return None, None
    ramp = Ramp.objects.select_for_update().filter(ticket=ticket).first()
    if ramp is None or ramp.current_index < 0:
        return None, None
    return ticket, ramp


def _act_on_breach(ticket, ramp, stage, finding, now, system) -> str:
    """Record the breach (once per stage bake and severity), then roll back or halt."""
    already = Breach.objects.filter(
        ticket=ticket, stage=stage, created_at__gte=ramp.bake_started_at
    )
    sentence = (
        f"{finding.guard.metric} {finding.value:g} > {finding.threshold:g} "
        f"at {stage.percent}% stage{_late_note(ticket, finding)}"
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
                observed_at=finding.observed_at,
                received_at=finding.received_at,
            ),
            acting_user=system,
            reason=sentence,
        )
    if finding.severe:
        ticket_transition(ticket, "roll_back", acting_user=system, reason=sentence)
        return f"rolled back: {sentence}"
    ticket_transition(ticket, "halt", acting_user=system, reason=sentence)
    return f"halted: {sentence}"


def _halt_on_failing_prometheus(ticket, stage, system) -> str | None:
    """A Prometheus guard inconclusive PROMETHEUS_FAILURES_TO_HALT times in a row halts."""
    failing = prometheus.failing_guard(ticket)
    if not failing:
        return None
    guard, probe = failing
    sentence = (
        f"Prometheus guard {guard.metric} inconclusive {probe.consecutive_failures} "
        f"times in a row at {stage.percent}% stage: {probe.last_error}"
    )
    ticket_transition(ticket, "halt", acting_user=system, reason=sentence)
    return f"halted: {sentence}"


def _waits(ticket, ramp, stage, now, last) -> tuple[bool, str | None]:
    """(still waiting, what to report) before a promotion: the bake, the samples, the window."""
    if ramp.current_index >= last:
        return False, None  # the bookkeeping step into deployed waits for nothing
    bake_end = health.bake_ends_at(ticket, ramp)
    if now < bake_end:
        return True, None
    if health.missing_samples(ticket, ramp):
        return True, _hold(ticket, ramp, stage, now)
    if next_promotion_at(ticket, bake_end) > now:
        return True, None  # waiting for a release window (or a freeze to lift)
    return False, None


def _promote(ticket, ramp, last, system) -> str:
    expected = ramp.current_index
    try:
        ticket_transition(
            ticket,
            "promote",
            acting_user=system,
            reason="bake elapsed, samples in, guards healthy",
            final=health.promotion_is_final(ticket, ramp),
        )
    except TransitionRefused as refused:
        return f"held: {refused.message}"
    ramp.refresh_from_db()
    # Compare-and-set: one promotion moves exactly one stage from the index read under lock.
    if ramp.current_index not in (expected + 1, last):
        raise RuntimeError(f"{ticket.change_id}: a promotion moved more than one stage")
    return f"promoted to {ticket.ramp_stages.get(index=ramp.current_index).percent}%"


@transaction.atomic
def rollout_advance(ticket_id: int, now: datetime) -> str | None:
    """Evaluate one ramp as of `now`: roll back, halt, promote, hold, or nothing. Returns what it
    did (for the command's output), or None when the ticket is locked elsewhere or not active."""
    with clock.frozen_at(now):
        ticket, ramp = _claim(ticket_id)
        if ticket is None:
            return None
        stage = ticket.ramp_stages.get(index=ramp.current_index)
        system = system_user()
        # Breaches first: the newest samples decide before any promotion is considered.
        finding = health.worst_finding(ticket, ramp)
        # A halted ramp holds its traffic; only a severe breach still acts on it (roll back).
        if finding and (finding.severe or ticket.state == State.RAMPING):
            return _act_on_breach(ticket, ramp, stage, finding, now, system)
        if ticket.state != State.RAMPING:
            return None
        inconclusive = _halt_on_failing_prometheus(ticket, stage, system)
        if inconclusive:
            return inconclusive

        last = ticket.ramp_stages.count() - 1
        waiting, outcome = _waits(ticket, ramp, stage, now, last)
        if waiting:
            return outcome
        return _promote(ticket, ramp, last, system)


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
    # The current window, and late arrivals filed under any stage (health.acting_samples).
    in_window = Q(
        stage_index=F("ticket__ramp__current_index"),
        observed_at__gte=F("ticket__ramp__bake_started_at"),
    )
    arrived_late = Q(received_at__gte=F("ticket__ramp__bake_started_at"))
    breaching = (
        HealthSample.objects.filter(
            over_threshold,
            in_window | arrived_late,
            ticket__state__in=ACTIVE_RAMP_STATES,
            **{
                f"{guard}metric": F("metric"),
                f"{guard}source": F("source"),
                f"{guard}observe_only": False,
            },
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
    # Outside any transaction: the queries take a network round trip, never a row lock's time.
    polled = prometheus.poll(now)
    for ticket_id in sorted(set(due_ticket_ids(now)) | polled["halting"]):
        outcome = rollout_advance(ticket_id, now)
        if outcome:
            change_id = ChangeTicket.objects.values_list("change_id", flat=True).get(pk=ticket_id)
            log.info("%s %s", change_id, outcome)
            done.append((change_id, outcome))
    return done
