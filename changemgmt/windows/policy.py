"""Release-window arithmetic: pure functions of the policy, the freezes and an instant.

Windows are wall-clock rules ("Tue/Wed/Thu 10:00–16:00 America/New_York"), so every window is built
from a local date and a local time in the policy's zone and only then turned into an instant: a
window on the Tuesday after a daylight-saving switch opens at 10:00 local, not 24 hours after
Monday's 10:00. Intervals are half-open: [opens, closes).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q

from .models import WEEKDAY_NAMES, Freeze, WindowPolicy

# An emergency slot has no window to end it: book the bridge for this long.
EMERGENCY_SLOT = timedelta(hours=6)
# A planned start a few minutes old is the form round trip, not an attempt to book the past.
PAST_GRACE = timedelta(minutes=5)
# Ramping and halted tickets hold their feature and switch until they finish.
OPEN_ENDED = datetime.max.replace(tzinfo=UTC) - timedelta(days=2)
BOOKING_HORIZON = timedelta(days=366)  # a release slot is booked within a year
SEARCH_LIMIT_DAYS = 800  # freezes chained end to end could otherwise loop forever

BLOCKING_STATES = ("scheduled", "ramping", "halted")


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def overlaps(self, other_start: datetime, other_end: datetime) -> bool:
        return self.start < other_end and other_start < self.end


def current_policy() -> WindowPolicy:
    """The active policy, or the default one (Tue/Wed/Thu 10:00–16:00 America/New_York)."""
    return WindowPolicy.objects.filter(active=True).first() or WindowPolicy()


def _policy(policy):
    return policy if policy is not None else current_policy()


def window_on(day: date, policy=None) -> Interval | None:
    """The standard window on local date `day`, or None when the window does not open that day."""
    policy = _policy(policy)
    if day.weekday() not in policy.weekdays:
        return None
    zone = policy.zone
    opens = datetime.combine(day, policy.start_time, tzinfo=zone)
    closes = datetime.combine(day, policy.end_time, tzinfo=zone)
    # Round-trip through UTC so a wall time skipped by a spring-forward switch resolves exactly.
    return Interval(opens.astimezone(UTC), closes.astimezone(UTC))


def windows_between(start: datetime, end: datetime, policy=None) -> list[Interval]:
    """Every standard window overlapping [start, end), in order."""
    policy = _policy(policy)
    zone = policy.zone
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    found = []
    while day <= last:
        window = window_on(day, policy)
        if window and window.overlaps(start, end):
            found.append(window)
        day += timedelta(days=1)
    return found


def window_containing(at: datetime, policy=None) -> Interval | None:
    policy = _policy(policy)
    window = window_on(at.astimezone(policy.zone).date(), policy)
    return window if window and window.contains(at) else None


def next_window(at: datetime, policy=None) -> Interval:
    """The window containing `at`, else the next one to open."""
    policy = _policy(policy)
    if not policy.weekdays:
        raise ValueError("The window policy opens on no day.")
    day = at.astimezone(policy.zone).date()
    for offset in range(8):
        window = window_on(day + timedelta(days=offset), policy)
        if window and window.end > at:
            return window
    raise AssertionError("a weekly window always opens within 8 days")


def next_window_open(at: datetime, policy=None) -> datetime:
    """The first instant >= `at` inside a standard window (`at` itself when a window is open)."""
    window = next_window(at, policy)
    return max(window.start, at)


# ----- freezes -----


def freeze_covers(freeze: Freeze, ticket) -> bool:
    """A freeze covers a ticket when it has no scope, names its feature, or shares a region."""
    feature_ids = {f.pk for f in freeze.features.all()}
    regions = set(freeze.regions or [])
    if not feature_ids and not regions:
        return True
    if ticket.feature_id in feature_ids:
        return True
    return bool(regions & {str(r).upper() for r in (ticket.regions or [])})


def freezes_overlapping(ticket, start: datetime, end: datetime) -> list[Freeze]:
    """Freezes covering `ticket` (every freeze when ticket is None) that overlap [start, end)."""
    candidates = Freeze.objects.filter(starts_at__lt=end, ends_at__gt=start).prefetch_related(
        "features"
    )
    return [f for f in candidates if ticket is None or freeze_covers(f, ticket)]


def freezes_covering(ticket, at: datetime) -> list[Freeze]:
    """Freezes in force at `at` that cover `ticket` (every freeze in force when ticket is None)."""
    return freezes_overlapping(ticket, at, at + timedelta(microseconds=1))


# ----- emergency -----


def is_emergency(ticket) -> bool:
    """An emergency change approved through the emergency pipeline (exec approval).

    The flag alone is not enough: only `emergency_approve` unlocks "any time", and it marks the
    ticket for the retrospective CAB (which clears `retrospective_due` once recorded).
    """
    if not ticket.emergency:
        return False
    return ticket.retrospective_due or ticket.emergency_approved_at is not None


# ----- conflicts -----


def occupied_slot(other) -> Interval | None:
    start = other.planned_start or other.started_at
    if start is None:
        return None
    if other.state in ("ramping", "halted"):
        return Interval(other.started_at or start, OPEN_ENDED)
    end = other.slot_ends_at if other.slot_ends_at and other.slot_ends_at > start else None
    return Interval(start, end or start + EMERGENCY_SLOT)


def conflicting_tickets(ticket, start: datetime, end: datetime) -> list:
    """Other tickets on the same feature or kill-switch path whose booked slot (or running ramp)
    overlaps [start, end)."""
    from changemgmt.tickets.models import ChangeTicket

    same = Q(feature_id=ticket.feature_id)
    if ticket.kill_switch:
        same |= Q(kill_switch=ticket.kill_switch)
    others = (
        ChangeTicket.objects.filter(same, state__in=BLOCKING_STATES)
        .exclude(pk=ticket.pk)
        .select_related("feature")
        .order_by("planned_start", "id")
    )
    found = []
    for other in others:
        occupied = occupied_slot(other)
        if occupied and occupied.overlaps(start, end):
            found.append(other)
    return found


def active_ramps_sharing(ticket) -> list:
    """Other tickets ramping or halted on the same feature or kill-switch path."""
    from changemgmt.tickets.models import ChangeTicket

    same = Q(feature_id=ticket.feature_id)
    if ticket.kill_switch:
        same |= Q(kill_switch=ticket.kill_switch)
    return list(
        ChangeTicket.objects.filter(same, state__in=("ramping", "halted"))
        .exclude(pk=ticket.pk)
        .select_related("feature")
        .order_by("started_at", "id")
    )


# ----- slots -----


def too_far_ahead(planned_start: datetime, now: datetime) -> str | None:
    if planned_start > now + BOOKING_HORIZON:
        return (
            f"The planned start {planned_start:%Y-%m-%d} is more than a year ahead; "
            "book a slot within the next 366 days."
        )
    return None


def slot_end_for(ticket, planned_start: datetime, policy=None) -> datetime:
    """Where a slot booked at `planned_start` ends: the close of that window, cut short by the
    next freeze covering the ticket; an emergency slot runs EMERGENCY_SLOT."""
    if is_emergency(ticket):
        return planned_start + EMERGENCY_SLOT
    window = window_containing(planned_start, policy)
    if window is None:
        return planned_start + EMERGENCY_SLOT  # refused by the schedule guard anyway
    end = window.end
    for freeze in freezes_overlapping(ticket, planned_start, end):
        if freeze.starts_at > planned_start:
            end = min(end, freeze.starts_at)
    return end


def booked_slot(ticket) -> Interval | None:
    if ticket.planned_start is None:
        return None
    end = ticket.slot_ends_at
    if end is None or end <= ticket.planned_start:
        end = slot_end_for(ticket, ticket.planned_start)
    return Interval(ticket.planned_start, end)


def _subtract(pieces: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    kept = []
    for piece in pieces:
        if not piece.overlaps(start, end):
            kept.append(piece)
            continue
        if piece.start < start:
            kept.append(Interval(piece.start, start))
        if end < piece.end:
            kept.append(Interval(end, piece.end))
    return kept


def _round_up(at: datetime, minutes: int = 15) -> datetime:
    floor = at.replace(second=0, microsecond=0) - timedelta(minutes=at.minute % minutes)
    return floor if floor == at else floor + timedelta(minutes=minutes)


def open_slots(ticket, start: datetime, days: int, policy=None) -> list[Interval]:
    """The bookable slots for the picker: each window in the next `days` days from `start`, minus
    the freezes covering the ticket and the slots of conflicting tickets. A window already open
    offers its remainder from the next quarter hour."""
    policy = _policy(policy)
    end = start + timedelta(days=days)
    earliest = _round_up(start)
    slots = []
    for window in windows_between(start, end, policy):
        pieces = [Interval(max(window.start, earliest), window.end)]
        pieces = [p for p in pieces if p.start < p.end]
        for freeze in freezes_overlapping(ticket, window.start, window.end):
            pieces = _subtract(pieces, freeze.starts_at, freeze.ends_at)
        for other in conflicting_tickets(ticket, window.start, window.end):
            occupied = occupied_slot(other)
            pieces = _subtract(pieces, occupied.start, occupied.end)
        slots.extend(p for p in pieces if p.end - p.start >= timedelta(minutes=15))
    return slots


# ----- promotions -----


def _first_open_instant(freezes, earliest: datetime, policy) -> Interval:
    """The first window piece at or after `earliest` that none of `freezes` covers."""
    horizon = earliest + timedelta(days=SEARCH_LIMIT_DAYS)
    at = earliest
    while at < horizon:
        window = next_window(at, policy)
        at = max(window.start, at)
        blocking = [f for f in freezes if f.starts_at <= at < f.ends_at]
        if not blocking:
            later = [f.starts_at for f in freezes if at < f.starts_at < window.end]
            return Interval(at, min([window.end, *later]))
        at = max(f.ends_at for f in blocking)
    raise ValueError(f"No window outside the freezes within {SEARCH_LIMIT_DAYS} days.")


def next_promotion_at(ticket, earliest: datetime, policy=None) -> datetime:
    """THE promotion rule: the first instant >= `earliest` inside a standard window and outside
    every freeze covering the ticket. Emergency tickets promote at `earliest`.

    A stage that bakes until Thursday 14:30 promotes then; until Friday 11:00, Tuesday 10:00.
    """
    if is_emergency(ticket):
        return earliest
    policy = _policy(policy)
    horizon = earliest + timedelta(days=SEARCH_LIMIT_DAYS)
    freezes = freezes_overlapping(ticket, earliest, horizon)
    return _first_open_instant(freezes, earliest, policy).start


def next_open_window(at: datetime, policy=None) -> Interval:
    """The open window for changes in general (the dashboard's): the current or next window,
    outside every freeze that covers everything. Scoped freezes close it only for their scope."""
    policy = _policy(policy)
    horizon = at + timedelta(days=SEARCH_LIMIT_DAYS)
    freezes = [
        f for f in freezes_overlapping(None, at, horizon) if not f.regions and not f.features.all()
    ]
    return _first_open_instant(freezes, at, policy)


def promotion_hold_reason(ticket, at: datetime, policy=None) -> str | None:
    """Why a promotion may not happen at `at` (lockdown or outside the window), or None."""
    if is_emergency(ticket):
        return None
    policy = _policy(policy)
    frozen = freezes_covering(ticket, at)
    if frozen:
        freeze = max(frozen, key=lambda f: f.ends_at)
        return (
            f"Lockdown: promotions wait inside freeze '{freeze.name}' until "
            f"{local(freeze.ends_at, policy)}; kill switches and roll back stay open."
        )
    if window_containing(at, policy) is None:
        return (
            f"{local_day(at, policy)} is outside the standard window ({policy.describe()}); "
            f"promotes at {local_short(next_promotion_at(ticket, at, policy), policy)}."
        )
    return None


# ----- formatting (in the policy's zone: the rule is stated there) -----


def local(at: datetime, policy=None) -> str:
    """'2027-01-05 09:00 EST'"""
    return at.astimezone(_policy(policy).zone).strftime("%Y-%m-%d %H:%M %Z")


def local_short(at: datetime, policy=None) -> str:
    """'Wed 2027-02-10 10:00 EST'"""
    return at.astimezone(_policy(policy).zone).strftime("%a %Y-%m-%d %H:%M %Z")


def local_day(at: datetime, policy=None) -> str:
    """'Monday 2027-02-08 10:00 EST'"""
    moment = at.astimezone(_policy(policy).zone)
    return f"{WEEKDAY_NAMES[moment.weekday()]} {moment:%Y-%m-%d %H:%M %Z}"
