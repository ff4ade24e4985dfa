"""The numbers that show the process works, over the last 90 days, by week.

Every figure is one SQL aggregate or one bounded read (rows inside the window only), so the
dashboard's cost does not grow with the size of the history.
"""

import math
from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncWeek

from changemgmt import clock
from changemgmt.audit.models import AuditRecord
from changemgmt.killswitches.freshness import QUARTER
from changemgmt.killswitches.models import FeatureSwitch, ModelSwitch, TenantSwitch
from changemgmt.tickets.models import ChangeTicket

WINDOW = timedelta(days=90)
# Counted with the killswitches rule (freshness.QUARTER: one quarter without an exercise is amber,
# two is stale), as one aggregate per layer.
SWITCH_MODELS = (FeatureSwitch, ModelSwitch, TenantSwitch)


def percentile(values, pct: float):
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


def _week_of(instant):
    day = instant.date()
    return day - timedelta(days=day.weekday())


def _weeks(since, now) -> list:
    first, last = _week_of(since), _week_of(now)
    weeks = []
    while first <= last:
        weeks.append(first)
        first += timedelta(days=7)
    return weeks


def _by_week(queryset, field):
    rows = (
        queryset.annotate(week=TruncWeek(field))
        .values("week")
        .annotate(
            n=Count("id"),
            rolled_back=Count("id", filter=Q(rolled_back_at__isnull=False)),
        )
    )
    return {
        (row["week"].date() if hasattr(row["week"], "date") else row["week"]): row for row in rows
    }


def change_failure_rate(tickets, since, weeks):
    started = _by_week(tickets.filter(started_at__gte=since), "started_at")
    series = []
    for week in weeks:
        row = started.get(week, {"n": 0, "rolled_back": 0})
        rate = round(100 * row["rolled_back"] / row["n"], 1) if row["n"] else None
        series.append(
            {"week": week, "started": row["n"], "rolled_back": row["rolled_back"], "rate": rate}
        )
    total_started = sum(r["started"] for r in series)
    total_rolled_back = sum(r["rolled_back"] for r in series)
    return {
        "started": total_started,
        "rolled_back": total_rolled_back,
        "rate": round(100 * total_rolled_back / total_started, 1) if total_started else None,
        "weeks": series,
    }


def lead_time(tickets, since, weeks):
    pairs = tickets.filter(deployed_at__gte=since, submitted_at__isnull=False).values_list(
        "submitted_at", "deployed_at"
    )
    per_week: dict = {week: [] for week in weeks}
    every = []
    for submitted_at, deployed_at in pairs:
        hours = _hours(deployed_at - submitted_at)
        every.append(hours)
        per_week.setdefault(_week_of(deployed_at), []).append(hours)
    return {
        "count": len(every),
        "median_hours": percentile(every, 50),
        "p90_hours": percentile(every, 90),
        "weeks": [
            {
                "week": week,
                "count": len(per_week.get(week, [])),
                "median_hours": percentile(per_week.get(week, []), 50),
                "p90_hours": percentile(per_week.get(week, []), 90),
            }
            for week in weeks
        ],
    }


def time_to_restore(since, weeks):
    """Halt → the next move out of `halted` (resume or roll back), from the ticket's history:
    `halted_at` is cleared on resume, so the audit record's state diffs are the source."""
    moves = (
        AuditRecord.objects.filter(
            object_model="tickets.changeticket", created_at__gte=since, changes__has_key="state"
        )
        .order_by("object_id", "seq")
        .values_list("object_id", "created_at", "changes")
    )
    halted: dict[str, object] = {}
    restores = []
    for object_id, created_at, changes in moves:
        old, new = changes["state"]
        if old == "halted" and object_id in halted:
            restores.append((halted.pop(object_id), created_at, new))
        if new == "halted":
            halted[object_id] = created_at
    per_week: dict = {week: [] for week in weeks}
    every = []
    for halted_at, restored_at, _ in restores:
        minutes = round((restored_at - halted_at).total_seconds() / 60, 1)
        every.append(minutes)
        per_week.setdefault(_week_of(halted_at), []).append(minutes)
    return {
        "count": len(every),
        "still_halted": len(halted),
        "median_minutes": percentile(every, 50),
        "p90_minutes": percentile(every, 90),
        "weeks": [
            {
                "week": week,
                "count": len(per_week.get(week, [])),
                "median_minutes": percentile(per_week.get(week, []), 50),
            }
            for week in weeks
        ],
    }


def emergency_changes(tickets, since, weeks):
    by_week = _by_week(tickets.filter(emergency=True, approved_at__gte=since), "approved_at")
    series = [{"week": w, "count": by_week.get(w, {"n": 0})["n"]} for w in weeks]
    return {"count": sum(r["count"] for r in series), "weeks": series}


def switch_freshness(now):
    counts = {"green": 0, "amber": 0, "stale": 0}
    for model in SWITCH_MODELS:
        row = model.objects.aggregate(
            green=Count("pk", filter=Q(last_exercised_at__gt=now - QUARTER)),
            amber=Count(
                "pk",
                filter=Q(
                    last_exercised_at__lte=now - QUARTER,
                    last_exercised_at__gt=now - 2 * QUARTER,
                ),
            ),
            total=Count("pk"),
        )
        counts["green"] += row["green"]
        counts["amber"] += row["amber"]
        counts["stale"] += row["total"] - row["green"] - row["amber"]
    return counts


def process_numbers(now=None) -> dict:
    now = now or clock.now()
    since = now - WINDOW
    weeks = _weeks(since, now)
    tickets = ChangeTicket.objects.all()
    numbers = {
        "since": since,
        "now": now,
        "weeks": weeks,
        "failure_rate": change_failure_rate(tickets, since, weeks),
        "lead_time": lead_time(tickets, since, weeks),
        "restore": time_to_restore(since, weeks),
        "emergency": emergency_changes(tickets, since, weeks),
        "freshness": switch_freshness(now),
    }
    numbers["table"] = [
        {"week": week, "failure": fr, "lead": lt, "restore": rs, "emergency": em}
        for week, fr, lt, rs, em in zip(
            weeks,
            numbers["failure_rate"]["weeks"],
            numbers["lead_time"]["weeks"],
            numbers["restore"]["weeks"],
            numbers["emergency"]["weeks"],
            strict=True,
        )
    ]
    return numbers


def chart_data(numbers) -> dict:
    """What the Chart.js charts plot (json_script'ed into the page). A week without a value is
    None (the line breaks there); `empty` names the charts with nothing to plot yet."""
    labels = [w.isoformat() for w in numbers["weeks"]]
    data = {
        "labels": labels,
        "failure_rate": [r["rate"] for r in numbers["failure_rate"]["weeks"]],
        "lead_time_median": [r["median_hours"] for r in numbers["lead_time"]["weeks"]],
        "lead_time_p90": [r["p90_hours"] for r in numbers["lead_time"]["weeks"]],
        "restore_median": [r["median_minutes"] for r in numbers["restore"]["weeks"]],
        "emergency": [r["count"] for r in numbers["emergency"]["weeks"]],
        "freshness": numbers["freshness"],
    }
    data["empty"] = {
        "failure_rate": numbers["failure_rate"]["started"] == 0,
        "lead_time": numbers["lead_time"]["count"] == 0,
        "restore": numbers["restore"]["count"] == 0,
        "emergency": numbers["emergency"]["count"] == 0,
        "freshness": not any(numbers["freshness"].values()),
    }
    return data
