"""The change calendar: standard windows, freezes, scheduled changes, and events other apps add.

Apps above windows (killswitches' game days, for one) contribute events without windows importing
them: `register_event_source(fn)` where `fn(start, end) -> list[dict]`, each dict
`{"title", "start", "end", "kind", "url"}` with aware datetimes. Register at import time of a
module imported from the app's AppConfig.ready().
"""

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
