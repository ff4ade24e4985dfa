"""How current a kill switch is, and the `start` guard on it.

The article: "A kill switch that hasn't been exercised in 6 months might not work". One quarter
without an exercise is amber, two quarters is stale, and a stale switch blocks `start`. A switch
never exercised (or that does not exist) is stale.
"""

from datetime import datetime, timedelta

from changemgmt import clock
from changemgmt.tickets import guards

QUARTER = timedelta(days=91)
GREEN, AMBER, STALE = "green", "amber", "stale"


def freshness_of(last_exercised_at: datetime | None, *, now: datetime | None = None) -> str:
    if last_exercised_at is None:
        return STALE
    age = (now or clock.now()) - last_exercised_at
    if age >= 2 * QUARTER:
        return STALE
    if age >= QUARTER:
        return AMBER
    return GREEN


def freshness(path: str) -> tuple[str, datetime | None]:
    """("green" | "amber" | "stale", last exercised) of the switch at `path`."""
    from .services import find_switch

    switch = find_switch(path)
    last = switch.last_exercised_at if switch is not None else None
    return freshness_of(last), last


@guards.register("start")
def kill_switch_current(ticket) -> str | None:
    """The ticket's kill switch was exercised within the last two quarters."""
    path = (ticket.kill_switch or "").strip()
    if not path:
        return "the ticket names no kill switch; name one and run a game day first"
    state, last = freshness(path)
    if state != STALE:
        return None
    if last is None:
        return f"kill switch {path} was never exercised; run a game day first"
    return f"kill switch {path} last exercised {last.date().isoformat()}; run a game day first"


@guards.register("emergency_approve")
@guards.register("submit")
def kill_switch_path_names_a_switch(ticket) -> str | None:
    """A kill-switch path (feature, model or tenant) names a switch that exists, not just a
    catalog entry: a ticket approved on a switch that does not exist could never start, and a
    Low-tier one would be pre-approved with nothing to turn it off (issue 11 item 4). A path that
    does not parse or names no catalog entry is the ticket's completeness rule's to name."""
    path = (ticket.kill_switch or "").strip()
    if not path.startswith(("feature:", "model:", "tenant:")):
        return None
    from .services import find_switch

    if find_switch(path) is None:
        return f"There is no kill switch {path}: name a switch that exists (see the console)."
    return None
