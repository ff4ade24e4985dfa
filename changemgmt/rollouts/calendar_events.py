"""Active ramps on windows' calendar (registered in RolloutsConfig.ready()): each from its start
to its projected end, so a ramp that runs past its booked slot is drawn where it really is."""

from changemgmt import clock
from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket
from changemgmt.windows.calendar import ticket_url
from changemgmt.windows.policy import local_short

from .projection import project_ramp


def ramp_events(start, end) -> list[dict]:
    now = clock.now()
    events = []
    tickets = ChangeTicket.objects.filter(
        state__in=ACTIVE_RAMP_STATES, started_at__lt=end, started_at__isnull=False
    ).select_related("feature")
    for ticket in tickets:
        projection = project_ramp(ticket, now=now)
        steps = projection.steps if projection else []
        # Halted, or no window within the horizon: drawn up to now (traffic is held there).
        ends = projection.ends_at if projection and not projection.halted else None
        ends = max(ends or now, ticket.started_at)
        current = next((s.percent for s in steps if s.status == "current"), None)
        ahead = ", ".join(
            f"{s.percent}% {local_short(s.enters_at)}" for s in steps if s.status == "ahead"
        )
        events.append(
            {
                "title": f"Ramp {ticket.change_id} {ticket.feature.slug}"
                + (f" at {current}%" if current else "")
                + (" (halted)" if ticket.state == "halted" else ""),
                "start": ticket.started_at,
                "end": ends,
                "kind": "ramp",
                "url": ticket_url(ticket.change_id),
                "uid": f"ramp-{ticket.change_id}@changemgmt",
                "description": f"projected: {ahead}" if ahead else "held where it is",
            }
        )
    return events
