"""What a ramp looks like right now, for the pages: stages, progress, what it waits for, the
projected timeline ahead and the chart data. Read-only; the sweeper decides, this explains."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from changemgmt import clock
from changemgmt.windows.policy import current_policy, promotion_hold_reason

from . import health, promql
from .guards import every_gating_guard_is_healthy
from .models import GuardProbe, HealthSample, Metric
from .plans import projected_users
from .projection import project_ramp

CHART_POINTS_PER_METRIC = 500


def policy_zone() -> ZoneInfo:
    return current_policy().zone


def when(at: datetime | None, zone: ZoneInfo) -> dict | None:
    if at is None:
        return None
    local = at.astimezone(zone)
    return {
        "at": at,
        "iso": at.isoformat(),
        "short": local.strftime("%a %H:%M"),
        "local": local.strftime("%a %Y-%m-%d %H:%M %Z"),
        "utc": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes or not parts:
        parts.append(f"{minutes}m")
    return " ".join(parts)


def projected_timeline(ticket, ramp, stages, now, zone) -> list[dict]:
    """When each stage ahead would be entered if every bake passes healthy: the bake end, moved
    to the next instant the window rule allows ("10% at Wed 10:30, 50% at Wed 14:30")."""
    if ramp is None or ramp.current_index < 0 or ramp.bake_started_at is None:
        return []
    projection = project_ramp(ticket, now=now, stages=stages)
    if projection is None:
        return []
    return [
        {"percent": step.percent, "when": when(step.enters_at, zone)}
        for step in projection.steps
        if step.status == "ahead"
    ]


def waiting_for(ticket, ramp, stage, now, zone) -> list[str]:
    """The sentences that explain why the ramp is not promoting right now."""
    if ticket.state == "halted":
        return [f"Halted: {ticket.last_reason}" if ticket.last_reason else "Halted."]
    if ticket.state != "ramping" or ramp is None or stage is None:
        return []
    if health.is_at_last_stage(ticket, ramp):
        return ["Final bookkeeping step into deployed (next tick)."]
    waits = []
    bake_end = health.bake_ends_at(ticket, ramp)
    if bake_end and now < bake_end:
        waits.append(
            f"Bake: {_duration(bake_end - now)} left (until {when(bake_end, zone)['local']})."
        )
    missing = health.missing_samples(ticket, ramp)
    if missing:
        needed = health.min_samples(ticket)
        named = ", ".join(f"{m} {needed - c}/{needed}" for m, c in missing.items())
        late = bake_end is not None and now >= bake_end
        prefix = "Inconclusive, held for samples" if late else "Samples"
        waits.append(f"{prefix}: {named}.")
    unhealthy = every_gating_guard_is_healthy(ticket)
    if unhealthy:
        waits.append(unhealthy)
    if bake_end is not None:
        hold = promotion_hold_reason(ticket, max(now, bake_end))
        if hold:
            waits.append(hold)
    return waits


def stage_rows(ticket, stages, ramp) -> list[dict]:
    current = ramp.current_index if ramp else -1
    deployed = ticket.state in ("deployed", "closed") and ticket.deployed_at is not None
    rows = []
    for stage in stages:
        if deployed or stage.index < current:
            status = "done"
        elif stage.index == current:
            status = "current"
        else:
            status = "ahead"
        if ticket.state == "rolled_back" and stage.index == current:
            status = "rolled_back"
        rows.append(
            {
                "stage": stage,
                "number": stage.index + 1,
                "projected_users": projected_users(ticket.feature.users_served, stage.percent),
                "status": status,
            }
        )
    return rows


def bake_progress(ticket, ramp, stage, now) -> int:
    """Percent of the current stage's bake done (100 for the last stage)."""
    if ramp is None or stage is None or ramp.bake_started_at is None:
        return 0
    if not stage.bake_minutes:
        return 100
    done = (now - ramp.bake_started_at).total_seconds() / (stage.bake_minutes * 60)
    return max(0, min(100, int(done * 100)))


GAP_AT_LEAST = timedelta(minutes=10)


def with_gaps(points: list[dict]) -> list[dict]:
    """The samples with a `y: null` point wherever they stop for a while, so the chart's line
    breaks there (Chart.js `spanGaps: false`) instead of drawing data nobody sent. A while is
    four times the usual spacing, and at least GAP_AT_LEAST."""
    if len(points) < 3:
        return points
    steps = sorted(b["x"] - a["x"] for a, b in zip(points, points[1:], strict=False))
    gap = max(4 * steps[len(steps) // 2], GAP_AT_LEAST.total_seconds() * 1000)
    out = [points[0]]
    for before, after in zip(points, points[1:], strict=False):
        if after["x"] - before["x"] > gap:
            out.append({"x": (before["x"] + after["x"]) // 2, "y": None})
        out.append(after)
    return out


def chart_data(ticket, stages) -> list[dict]:
    """Per metric: the samples, the threshold lines and the stage boundaries (epoch ms)."""
    guards = {g.metric: g for g in ticket.guards.all()}
    boundaries = [
        {"x": int(s.entered_at.timestamp() * 1000), "label": f"{s.percent}%"}
        for s in stages
        if s.entered_at
    ]
    charts = []
    for metric, label in Metric.choices:
        rows = list(
            HealthSample.objects.filter(ticket=ticket, metric=metric)
            .order_by("-observed_at", "-id")
            .values_list("observed_at", "value")[:CHART_POINTS_PER_METRIC]
        )
        guard = guards.get(metric)
        charts.append(
            {
                "metric": metric,
                "label": label,
                "points": with_gaps(
                    [{"x": int(at.timestamp() * 1000), "y": v} for at, v in reversed(rows)]
                ),
                "threshold": guard.threshold if guard else None,
                "severe": guard.severe_threshold if guard else None,
                "observe_only": bool(guard and guard.observe_only),
                "boundaries": boundaries,
            }
        )
    return charts


def guard_row(ticket, guard, stage, latest) -> dict:
    """One guard as the ramp page and the CAB review show it: a Prometheus guard with the query
    it sends (filled in for the current stage, else the first), and how its queries are going."""
    row = {
        "guard": guard,
        "latest": latest.get(guard.metric),
        "breaching": guard.metric in latest and guard.breaches(latest[guard.metric]),
    }
    if guard.reads_prometheus:
        shown = stage or ticket.ramp_stages.order_by("index").first()
        row["query"] = (
            promql.render(guard.query, promql.values_for(ticket, shown)) if shown else guard.query
        )
        probe = GuardProbe.objects.filter(guard=guard).first()
        row["failures"] = probe.consecutive_failures if probe else 0
        row["last_error"] = probe.last_error if probe else ""
    return row


def summary(ticket, *, with_charts=False) -> dict:
    now = clock.now()
    zone = policy_zone()
    ramp = health.ramp_of(ticket)
    stages = list(ticket.ramp_stages.order_by("index"))
    stage = stages[ramp.current_index] if ramp and 0 <= ramp.current_index < len(stages) else None
    guards = list(ticket.guards.all())
    latest = health.latest_values(ticket, ramp.current_index if stage else None) if stage else {}
    data = {
        "ticket": ticket,
        "zone": str(zone),
        "stages": stage_rows(ticket, stages, ramp),
        "current": stage,
        "current_number": stage.index + 1 if stage else None,
        "entered": when(stage.entered_at, zone) if stage else None,
        "bake_progress": bake_progress(ticket, ramp, stage, now),
        "waiting_for": waiting_for(ticket, ramp, stage, now, zone),
        "timeline": projected_timeline(ticket, ramp, stages, now, zone)
        if ticket.state == "ramping"
        else [],
        "guards": [guard_row(ticket, g, stage, latest) for g in guards],
        "min_samples": health.min_samples(ticket),
        "counts": health.sample_counts(ticket, ramp) if stage else {},
    }
    if with_charts:
        data["charts"] = chart_data(ticket, stages)
    return data
