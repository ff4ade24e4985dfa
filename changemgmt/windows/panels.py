"""The windows part of the dashboard (freeze banner, next window) and of the ticket page (the
schedule picker, the booked slot, the next allowed start, the emergency badge)."""

from datetime import UTC, timedelta

from django.urls import reverse

from changemgmt import clock, roles
from changemgmt.tickets import rules

from . import clashes, guards, policy

PICKER_DAYS = 21


def _when(at, active):
    """Policy zone first (the rule is stated there), UTC beside it."""
    return {
        "at": at,
        "local": policy.local_short(at, active),
        "hm": at.astimezone(active.zone).strftime("%H:%M"),
        "utc": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _freeze(freeze, active):
    return {
        "name": freeze.name,
        "reason": freeze.reason,
        "scope": freeze.scope_label,
        "starts": _when(freeze.starts_at, active),
        "ends": _when(freeze.ends_at, active),
    }


def dashboard_panel(request):
    if not roles.is_human_reader(request.user):
        return None
    active = policy.current_policy()
    now = clock.now()
    window = policy.next_open_window(now, active)
    upcoming = policy.freezes_overlapping(None, now, now + timedelta(days=14))
    return {
        "policy": active,
        "rule": active.describe(),
        "freezes_now": [_freeze(f, active) for f in upcoming if f.starts_at <= now],
        "freezes_soon": [_freeze(f, active) for f in upcoming if f.starts_at > now],
        "freeze_clashes": [
            {
                "ticket": ticket,
                "freeze": freeze.name,
                "advice": clashes.clash_advice(ticket, freeze),
            }
            for ticket, freeze in clashes.all_clashes()
        ],
        "window_open_now": window.contains(now),
        "window_opens": _when(window.start, active),
        "window_closes": _when(window.end, active),
    }


def ticket_panel(request, ticket):
    if not roles.is_human_reader(request.user):
        return None
    active = policy.current_policy()
    now = clock.now()
    emergency = policy.is_emergency(ticket)
    panel = {
        "ticket": ticket,
        "rule": active.describe(),
        "zone": active.timezone,
        "emergency": emergency,
        "retrospective_due": ticket.retrospective_due,
        "freezes_now": [_freeze(f, active) for f in policy.freezes_covering(ticket, now)],
        "schedule_url": reverse("windows:schedule", args=[ticket.change_id]),
    }
    if ticket.state in ("approved", "scheduled"):  # scheduled: the slot may be moved
        panel["can_schedule"] = rules.may_release(ticket, request.user)
        if panel["can_schedule"]:
            panel["slots"] = [
                {
                    "value": slot.start.isoformat(),
                    "start": _when(slot.start, active),
                    "end": _when(slot.end, active),
                }
                for slot in policy.open_slots(ticket, now, PICKER_DAYS, active)
            ]
            panel["now_value"] = now.isoformat()
            panel["free_default"] = now.astimezone(active.zone).strftime("%Y-%m-%dT%H:%M")
    slot = policy.booked_slot(ticket)
    if slot is not None and ticket.state != "approved":
        panel["slot_start"] = _when(slot.start, active)
        panel["slot_end"] = _when(slot.end, active)
    if ticket.state == "scheduled":
        _scheduled(panel, ticket, slot, now, active)
    if ticket.state in ("ramping", "halted"):
        panel["hold_reason"] = policy.promotion_hold_reason(ticket, now, active)
        panel["next_promotion"] = _when(policy.next_promotion_at(ticket, now, active), active)
    return panel


def _first_unfrozen(slot, freezes):
    """The first instant of `slot` none of `freezes` covers, or None when they cover all of it."""
    at = slot.start
    while covering := [f for f in freezes if f.starts_at <= at < f.ends_at]:
        at = max(f.ends_at for f in covering)
    return at if at < slot.end else None


def _scheduled(panel, ticket, slot, now, active):
    """When a booked ticket may start, and any freeze saved over its slot since it was booked."""
    refusal = guards.now_is_inside_the_booked_slot(ticket)
    panel["start_refusal"] = refusal
    clashing = clashes.freeze_clashes(ticket)
    panel["freeze_clashes"] = [clashes.clash_advice(ticket, f, active) for f in clashing]
    first = _first_unfrozen(slot, clashing) if clashing else slot and slot.start
    if clashing and first is None:
        # The freeze covers the whole booked slot: there is no allowed start to announce.
        panel["next_start"] = None
        panel["start_refusal"] = "None: a freeze covers the whole booked slot; move the slot."
    elif panel["emergency"]:
        panel["next_start"] = "any time (emergency pipeline)"
    elif slot and now < first:
        panel["next_start"] = policy.local_short(first, active)
    elif refusal is None:
        panel["next_start"] = "now"
    else:
        panel["next_start"] = None


REVIEW_SLOTS = 3


def review_panel(request, ticket):
    """For the CAB's "release window is appropriate" item: the slot the ticket intends, or, not
    scheduled yet, the next open slots it could take (freezes and conflicts already removed)."""
    if not roles.is_human_reader(request.user):
        return None
    active = policy.current_policy()
    intended = ticket.planned_start and policy.booked_slot(ticket)
    panel = {"rule": active.describe(), "zone": active.timezone, "emergency": ticket.emergency}
    if intended:
        panel["intended"] = {
            "start": _when(intended.start, active),
            "end": _when(intended.end, active),
        }
    else:
        slots = policy.open_slots(ticket, clock.now(), PICKER_DAYS, active)[:REVIEW_SLOTS]
        panel["next_slots"] = [
            {"start": _when(s.start, active), "end": _when(s.end, active)} for s in slots
        ]
    return panel
