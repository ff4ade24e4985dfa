"""Reading a ramp's health: pure queries the guards, the sweeper and the pages share.

Definitions (DESIGN.md: "a stage needs a minimum number of samples, and no data is not healthy"):
- A stage's *window* is the current stage's samples observed since `Ramp.bake_started_at` (stage
  entry, or the last resume).
- *Enough samples*: every gating guard's metric (not observe-only) has at least the tier's
  `TierPolicy.min_samples_per_stage` samples in the window. With no gating guard at all, the total
  number of samples in the window must reach it instead.
- *Healthy*: no gating guard has a sample in the window above its threshold.
- *Acting samples*: the window, plus every sample that *arrived* since the window started, whatever
  stage it is filed under: a breach observed at 1% but posted after the promotion to 10% still
  acts (issue 11 item 3). Samples that arrived before the window were judged when they arrived.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from changemgmt.catalog.models import TierPolicy

from .models import HealthSample, Ramp


@dataclass
class Finding:
    guard: object
    value: float
    severe: bool
    observed_at: datetime | None = None
    received_at: datetime | None = None
    stage_index: int | None = None
    late: bool = False  # observed outside the current window (an earlier stage or before resume)

    @property
    def threshold(self) -> float:
        return self.guard.severe_threshold if self.severe else self.guard.threshold


def ramp_of(ticket) -> Ramp | None:
    try:
        return ticket.ramp
    except Ramp.DoesNotExist:
        return None


def current_stage(ticket):
    ramp = ramp_of(ticket)
    if ramp is None or ramp.current_index < 0:
        return None
    return ticket.ramp_stages.filter(index=ramp.current_index).first()


def window_samples(ticket, ramp):
    qs = HealthSample.objects.filter(ticket=ticket, stage_index=ramp.current_index)
    if ramp.bake_started_at:
        qs = qs.filter(observed_at__gte=ramp.bake_started_at)
    return qs


def acting_samples(ticket, ramp):
    """The samples a guard acts on: the window, and late arrivals filed anywhere."""
    qs = HealthSample.objects.filter(ticket=ticket)
    window = Q(stage_index=ramp.current_index)
    if ramp.bake_started_at is None:
        return qs.filter(window)
    window &= Q(observed_at__gte=ramp.bake_started_at)
    return qs.filter(window | Q(received_at__gte=ramp.bake_started_at))


def gating_guards(ticket) -> list:
    return [g for g in ticket.guards.all() if not g.observe_only]


def min_samples(ticket) -> int:
    return TierPolicy.for_tier(ticket.risk_tier).min_samples_per_stage


def _judged_source(ticket) -> dict[str, str]:
    """Metric -> the source its guard reads: a guard judges only its own source's samples (a
    Prometheus guard counts its successful queries, not pushes that happen to share the name)."""
    return {g.metric: g.source for g in ticket.guards.all()}


def sample_counts(ticket, ramp) -> dict[str, int]:
    sources = _judged_source(ticket)
    counts = {}
    for metric, source in window_samples(ticket, ramp).values_list("metric", "source"):
        if sources.get(metric, source) == source:
            counts[metric] = counts.get(metric, 0) + 1
    return counts


def missing_samples(ticket, ramp) -> dict[str, int]:
    """Metric (or "total") -> how many samples are still missing; {} when there are enough."""
    needed = min_samples(ticket)
    counts = sample_counts(ticket, ramp)
    gating = gating_guards(ticket)
    if not gating:
        total = sum(counts.values())
        return {"total": needed - total} if total < needed else {}
    return {
        g.metric: needed - counts.get(g.metric, 0)
        for g in gating
        if counts.get(g.metric, 0) < needed
    }


def worst_finding(ticket, ramp) -> Finding | None:
    """The worst breach in the window: a severe one first, else the largest excess."""
    findings = []
    guards = {g.metric: g for g in gating_guards(ticket)}
    if not guards:
        return None
    samples = acting_samples(ticket, ramp).filter(metric__in=list(guards))
    rows = samples.values_list(
        "metric", "value", "observed_at", "received_at", "stage_index", "source"
    )
    for metric, value, observed_at, received_at, stage_index, source in rows:
        guard = guards[metric]
        if source != guard.source:
            continue  # a guard judges only its own source's samples
        severe = guard.breaches_severely(value)
        if severe or guard.breaches(value):
            late = stage_index != ramp.current_index or (
                ramp.bake_started_at is not None and observed_at < ramp.bake_started_at
            )
            findings.append(
                Finding(guard, value, severe, observed_at, received_at, stage_index, late)
            )
    if not findings:
        return None
    return max(
        findings,
        key=lambda f: (f.severe, f.guard.measure(f.value) / (f.threshold or 1e-12)),
    )


def bake_ends_at(ticket, ramp=None) -> datetime | None:
    ramp = ramp or ramp_of(ticket)
    stage = current_stage(ticket)
    if ramp is None or stage is None or ramp.bake_started_at is None:
        return None
    return ramp.bake_started_at + timedelta(minutes=stage.bake_minutes)


def latest_values(ticket, stage_index=None) -> dict[str, float]:
    qs = HealthSample.objects.filter(ticket=ticket)
    if stage_index is not None:
        qs = qs.filter(stage_index=stage_index)
    latest = {}
    for metric, value in qs.order_by("observed_at", "id").values_list("metric", "value"):
        latest[metric] = value
    return latest


def last_stage_index(ticket) -> int:
    return ticket.ramp_stages.count() - 1


def is_at_last_stage(ticket, ramp) -> bool:
    """The ramp carries its last stage's traffic: a promote is only the step into `deployed`."""
    return ramp.current_index >= last_stage_index(ticket)


def promotion_is_final(ticket, ramp=None) -> bool:
    """Whether promoting `ticket` now makes it deployed: the promotion enters the last stage (or is
    the bookkeeping step taken at it). The one answer for every `promote` — the API, the ticket
    page, "promote now" and the sweeper: RolloutsConfig registers it with tickets, which asks it
    whenever a promote comes without `final=`."""
    ramp = ramp or ramp_of(ticket)
    return ramp is not None and ramp.current_index + 1 >= last_stage_index(ticket)
