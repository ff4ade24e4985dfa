"""Dashboard and ticket-page panels (see changemgmt/panels.py)."""

from changemgmt import clock, roles

from . import gamedays, services
from .freshness import AMBER, STALE, freshness_of
from .models import LAYERS


def dashboard_panel(request):
    if not roles.is_human_reader(request.user):
        return None
    now = clock.now()
    tripped, aging = [], []
    for layer in LAYERS:
        for switch in services.switch_queryset(layer).order_by("pk"):
            if switch.engaged:
                tripped.append(switch)
            state = freshness_of(switch.last_exercised_at, now=now)
            if state in (AMBER, STALE):
                aging.append({"switch": switch, "freshness": state})
    lagging = [g for g in services.gateway_status(now) if g["lagging"]]
    follow_ups = gamedays.failed_follow_ups()
    return {
        "tripped": tripped,
        "aging": aging,
        "lagging": lagging,
        "follow_ups": follow_ups,
        "all_clear": not (tripped or aging or lagging or follow_ups),
    }


def ticket_panel(request, ticket):
    path = (ticket.kill_switch or "").strip()
    switch = services.find_switch(path) if path else None
    last = switch.last_exercised_at if switch else None
    return {
        "path": path,
        "switch": switch,
        "freshness": freshness_of(last),
        "last_exercised": last,
        "blocks_start": freshness_of(last) == STALE,
    }


def review_panel(request, ticket):
    """The CAB review's view of the kill switch: its path, state and freshness (the checklist's
    "kill switch is current" item is judged on it)."""
    return ticket_panel(request, ticket)
