"""The projected timeline as the ticket page draws it: a table of stages and a strip against the
calendar (days, window hours shaded, freezes marked, one lane per stage: bake solid, the wait for
a window or a freeze hatched). Geometry only; the times come from projection.project_ramp."""

from datetime import UTC, datetime, time, timedelta

from changemgmt import clock
from changemgmt.windows import policy

from .projection import bake_label, project_ramp


def _fmt(at: datetime | None, zone) -> dict | None:
    if at is None:
        return None
    local = at.astimezone(zone)
    return {
        "local": local.strftime("%a %Y-%m-%d %H:%M %Z"),
        "short": local.strftime("%a %H:%M"),
        "utc": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


class _Scale:
    def __init__(self, start: datetime, end: datetime):
        self.start, self.span = start, (end - start).total_seconds()

    def box(self, start: datetime, end: datetime) -> dict:
        left = max(0.0, (start - self.start).total_seconds() / self.span)
        right = min(1.0, (end - self.start).total_seconds() / self.span)
        return {"left": round(100 * left, 3), "width": round(100 * max(0.0, right - left), 3)}


def _range(projection, zone):
    last = projection.ends_at or projection.steps[-1].enters_at
    first_day = projection.start.astimezone(zone).date()
    last_day = last.astimezone(zone).date()
    start = datetime.combine(first_day, time.min, tzinfo=zone)
    end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def _rows(projection, zone, scale):
    rows = []
    for step in projection.steps:
        leaves = step.leaves_at
        row = {
            "number": step.number,
            "percent": step.percent,
            "status": step.status,
            "bake": bake_label(step.bake) if step.bake else "—",
            "enters": _fmt(step.enters_at, zone),
            "bake_ends": _fmt(step.bake_ends_at, zone) if leaves else None,
            "promotes": _fmt(leaves, zone),
            "held_by": step.held_by,
            "bake_box": scale.box(step.enters_at, step.bake_ends_at if leaves else step.enters_at),
            "wait_box": scale.box(step.bake_ends_at, leaves) if leaves and step.held_by else None,
        }
        if not leaves:  # the last stage: a mark where it is reached
            row["bake_box"]["width"] = max(row["bake_box"]["width"], 0.6)
        rows.append(row)
    return rows


def projection_context(ticket, *, stages=None) -> dict | None:
    projection = project_ramp(ticket, stages=stages)
    if projection is None or not projection.steps:
        return None
    active = policy.current_policy()
    zone = active.zone
    start, end = _range(projection, zone)
    scale = _Scale(start, end)
    days, day = [], start.date()
    while day < end.date():
        opens = datetime.combine(day, time.min, tzinfo=zone)
        closes = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
        days.append({"label": day.strftime("%a %d %b"), **scale.box(opens, closes)})
        day += timedelta(days=1)
    now = clock.now()
    return {
        "zone": active.timezone,
        "rule": active.describe(),
        "start": _fmt(projection.start, zone),
        "ends": _fmt(projection.ends_at, zone),
        "slot_ends": _fmt(projection.slot_ends_at, zone),
        "halted": projection.halted,
        "warnings": projection.warnings,
        "rows": _rows(projection, zone, scale),
        "days": days,
        "windows": [scale.box(w.start, w.end) for w in policy.windows_between(start, end, active)],
        "freezes": [
            {"name": f.name, **scale.box(f.starts_at, f.ends_at)}
            for f in policy.freezes_overlapping(ticket, start, end)
        ],
        "now": scale.box(now, now)["left"] if start <= now < end else None,
    }
