"""The calendar's week as an hourly grid: a column per day, 24 hour rows, window hours shaded,
freezes marked, and booked slots, ramps and other events drawn as bars from their start to their
end (a ramp past its slot runs to its projected end, as rollouts registers it). Geometry only:
positions are percentages of the day's wall-clock 24 hours in the policy's zone."""

from datetime import date, datetime, time, timedelta

DAY_MINUTES = 24 * 60
BAR_KINDS_ORDER = {"ramp": 0, "change": 1}


def _minute(at: datetime, day: date, zone) -> int:
    local = at.astimezone(zone)
    if local.date() < day:
        return 0
    if local.date() > day:
        return DAY_MINUTES
    return local.hour * 60 + local.minute


def _box(event, day, zone) -> dict:
    day_start = datetime.combine(day, time.min, tzinfo=zone)
    day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    top, bottom = _minute(event["start"], day, zone), _minute(event["end"], day, zone)
    bottom = max(bottom, top + 15)  # a short event stays visible and clickable
    return {
        "top": round(100 * top / DAY_MINUTES, 3),
        "height": round(100 * (min(bottom, DAY_MINUTES) - top) / DAY_MINUTES, 3),
        "from_before": event["start"] < day_start,
        "goes_on": event["end"] > day_end,
        "_top": top,
        "_bottom": bottom,
    }


def _lanes(bars: list[dict]) -> int:
    """Side by side where they overlap: each bar takes the first lane free at its top."""
    ends: list[int] = []
    for bar in bars:
        for lane, end in enumerate(ends):
            if end <= bar["_top"]:
                ends[lane] = bar["_bottom"]
                bar["lane"] = lane
                break
        else:
            bar["lane"] = len(ends)
            ends.append(bar["_bottom"])
    return max(1, len(ends))


def _column(day: date, events: list[dict], zone, today: date) -> dict:
    day_start = datetime.combine(day, time.min, tzinfo=zone)
    day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    mine = [e for e in events if e["start"] < day_end and e["end"] > day_start]
    shaded = [{**e, **_box(e, day, zone)} for e in mine if e["kind"] == "window"]
    frozen = [{**e, **_box(e, day, zone)} for e in mine if e["kind"] == "freeze"]
    bars = sorted(
        ({**e, **_box(e, day, zone)} for e in mine if e["kind"] not in ("window", "freeze")),
        key=lambda b: (b["_top"], BAR_KINDS_ORDER.get(b["kind"], 2), b["title"]),
    )
    lanes = _lanes(bars)
    for bar in bars:
        bar["width"] = round(100 / lanes, 3)
        bar["left"] = round(bar["lane"] * 100 / lanes, 3)
    return {
        "date": day,
        "today": day == today,
        "windows": shaded,
        "freezes": frozen,
        "bars": bars,
    }


def week_columns(first: date, events: list[dict], zone, today: date, now: datetime) -> dict:
    """The grid's context: seven day columns, the hour labels, and the now line (today only)."""
    columns = [_column(first + timedelta(days=i), events, zone, today) for i in range(7)]
    local_now = now.astimezone(zone)
    return {
        "columns": columns,
        "hours": [f"{h:02d}:00" for h in range(24)],
        "now_top": round(100 * (local_now.hour * 60 + local_now.minute) / DAY_MINUTES, 3),
    }
