"""The change calendar: standard windows, freezes, scheduled changes, and events other apps add.

Apps above windows (killswitches' game days, for one) contribute events without windows importing
them: `register_event_source(fn)` where `fn(start, end) -> list[dict]`, each dict
`{"title", "start", "end", "kind", "url"}` with aware datetimes. Register at import time of a
module imported from the app's AppConfig.ready().
"""

import hashlib
from collections.abc import Callable
from datetime import datetime

EventSource = Callable[[datetime, datetime], list[dict]]

_sources: list[EventSource] = []


def register_event_source(fn: EventSource) -> EventSource:
    """Add `fn` to the calendar (usable as a decorator; registering twice is harmless)."""
    if fn not in _sources:
        _sources.append(fn)
    return fn


def event_sources() -> list[EventSource]:
    return list(_sources)


def extra_events(start: datetime, end: datetime) -> list[dict]:
    """Events from every registered source that overlap [start, end)."""
    events = []
    for source in _sources:
        for event in source(start, end) or ():
            if event["start"] < end and event["end"] > start:
                events.append(event)
    return events


# ----- the change calendar's own events -----

CHANGE_STATES = ("scheduled", "ramping", "halted", "deployed", "rolled_back", "closed")


def ticket_url(change_id: str) -> str:
    from django.urls import NoReverseMatch, reverse

    for name in ("tickets:detail", "tickets:ticket-detail", "tickets:ticket_detail"):
        try:
            return reverse(name, kwargs={"change_id": change_id})
        except NoReverseMatch:
            continue
    return f"/tickets/{change_id}/"


def _window_events(start, end) -> list[dict]:
    from . import policy

    active = policy.current_policy()
    events = []
    for window in policy.windows_between(start, end, active):
        day = window.start.astimezone(active.zone).date()
        events.append(
            {
                "title": "Standard release window",
                "start": window.start,
                "end": window.end,
                "kind": "window",
                "url": "",
                "uid": f"window-{day.isoformat()}@changemgmt",
                "description": active.describe(),
            }
        )
    return events


def _freeze_events(start, end) -> list[dict]:
    from . import policy

    return [
        {
            "title": f"Freeze: {freeze.name}",
            "start": freeze.starts_at,
            "end": freeze.ends_at,
            "kind": "freeze",
            "url": "",
            "uid": f"freeze-{freeze.pk}@changemgmt",
            "description": f"{freeze.reason} (scope: {freeze.scope_label})",
        }
        for freeze in policy.freezes_overlapping(None, start, end)
    ]


def _change_events(start, end) -> list[dict]:
    from changemgmt.tickets.models import ChangeTicket

    from . import policy

    events = []
    tickets = ChangeTicket.objects.filter(
        state__in=CHANGE_STATES, planned_start__lt=end, planned_start__isnull=False
    ).select_related("feature")
    for ticket in tickets:
        slot = policy.booked_slot(ticket)
        if not slot.overlaps(start, end):
            continue
        label = "emergency " if ticket.emergency else ""
        events.append(
            {
                "title": f"{ticket.change_id} {ticket.feature.slug} ({label}{ticket.state})",
                "start": slot.start,
                "end": slot.end,
                "kind": "change",
                "url": ticket_url(ticket.change_id),
                "uid": f"change-{ticket.change_id}@changemgmt",
                "description": ticket.title,
            }
        )
    return events


def _registered_events(start, end) -> list[dict]:
    """The extras other apps register (game days), each given a stable uid if it has none."""
    events = []
    for event in extra_events(start, end):
        event = {"url": "", "description": "", **event}
        if "uid" not in event:
            key = f"{event['kind']}|{event['title']}|{event['start'].isoformat()}"
            event["uid"] = (
                f"{event['kind']}-{hashlib.sha1(key.encode()).hexdigest()[:16]}@changemgmt"
            )
        events.append(event)
    return events


def events_between(start: datetime, end: datetime) -> list[dict]:
    """Standard windows, freezes, booked changes and registered extras overlapping [start, end),
    ordered by start. Each has a stable `uid` (the iCalendar feed's)."""
    events = [
        *_window_events(start, end),
        *_freeze_events(start, end),
        *_change_events(start, end),
        *_registered_events(start, end),
    ]
    events.sort(key=lambda e: (e["start"], e["kind"], e["title"]))
    return events
