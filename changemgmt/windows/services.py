"""What the window rules tell the schedule transition (tickets.window_rules): where a booked slot
ends, what a release manager should hear before booking (bridge clashes, and what apps above
register), the policy's zone and rule text.

Booking itself is tickets' one schedule path, `ticket_schedule` (re-exported here for callers that
book from the windows side)."""

from datetime import datetime

from changemgmt import clock
from changemgmt.tickets.services import ticket_schedule

from . import policy

__all__ = [
    "TicketWindowRules",
    "bridge_warnings",
    "register_schedule_warning",
    "schedule_warnings",
    "ticket_schedule",
]

# Apps above windows add what a release manager should hear before booking (rollouts: the ramp's
# projected timeline): fn(ticket, planned_start, slot_ends_at) -> list[str]. Warnings, never
# refusals: the schedule guard alone refuses.
_schedule_warnings: list = []


def register_schedule_warning(fn):
    if fn not in _schedule_warnings:
        _schedule_warnings.append(fn)
    return fn


def schedule_warnings(ticket, planned_start: datetime, slot_ends_at: datetime) -> list[str]:
    return [w for fn in _schedule_warnings for w in fn(ticket, planned_start, slot_ends_at)]


def bridge_warnings(ticket, start: datetime, end: datetime, acting_user=None) -> list[str]:
    """The release manager (or the acting user) is already on another ticket's bridge then.

    A warning, not a refusal: the article's release manager can run two bridges, but should know.
    """
    from changemgmt.tickets.models import ChangeTicket

    people = {u for u in (ticket.release_manager, acting_user) if u is not None}
    warnings = []
    others = (
        ChangeTicket.objects.filter(state__in=policy.BLOCKING_STATES)
        .exclude(pk=ticket.pk)
        .select_related("release_manager")
        .order_by("planned_start", "id")
    )
    for person in people:
        for other in others:
            on_bridge = other.release_manager_id == person.pk or person.username in (
                other.bridge or []
            )
            occupied = policy.occupied_slot(other)
            if on_bridge and occupied and occupied.overlaps(start, end):
                warnings.append(
                    f"Bridge clash: {person.username} is already on the bridge of {other.change_id} "
                    f"(booked {policy.local_short(other.planned_start or occupied.start)})."
                )
    return warnings


class TicketWindowRules:
    """The window rules tickets asks for (tickets.window_rules): where a booked slot ends, and the
    active policy's zone and rule text for the ticket page."""

    def slot_end(self, ticket, planned_start):
        if policy.too_far_ahead(planned_start, clock.now()):
            return None  # the schedule guard refuses it; there is no slot to end
        return policy.slot_end_for(ticket, planned_start)

    def zone_name(self) -> str:
        return policy.current_policy().timezone

    def describe(self) -> str:
        return policy.current_policy().describe()

    def local_short(self, at) -> str:
        return policy.local_short(at)

    def booking_warnings(self, ticket, acting_user, planned_start) -> list[str]:
        slot_ends_at = self.slot_end(ticket, planned_start)
        if slot_ends_at is None:
            return []  # refused by the schedule guard: nothing is booked to warn about
        return bridge_warnings(ticket, planned_start, slot_ends_at, acting_user) + (
            schedule_warnings(ticket, planned_start, slot_ends_at)
        )
