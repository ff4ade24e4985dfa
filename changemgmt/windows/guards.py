"""The window rules on the ticket lifecycle (registered from WindowsConfig.ready()).

Each check returns None when the rule holds, else the sentence shown to the release manager and
named in the API's 409. Halt and roll back get no guard: kill switches and roll back stay open in
every window and freeze.
"""

from changemgmt import clock
from changemgmt.tickets.guards import register

from . import policy


def _frozen_reason(freezes, at) -> str:
    freeze = max(freezes, key=lambda f: f.ends_at)
    if freeze.starts_at <= at:
        where = f"inside freeze '{freeze.name}' until {policy.local(freeze.ends_at)}"
    else:
        where = (
            f"runs into freeze '{freeze.name}' "
            f"({policy.local(freeze.starts_at)} until {policy.local(freeze.ends_at)})"
        )
    return f"The slot is {where}: {freeze.reason}"


def _conflict_reason(ticket, others) -> str:
    named = []
    for other in others:
        shared = (
            f"same feature {other.feature.slug}"
            if other.feature_id == ticket.feature_id
            else f"same kill switch {other.kill_switch}"
        )
        when = f"booked {policy.local_short(other.planned_start)}" if other.planned_start else ""
        named.append(f"{other.change_id} ({other.state}, {shared}{', ' if when else ''}{when})")
    return "Conflicts with " + "; ".join(named) + ": pick another slot."


@register("schedule")
def planned_start_is_in_an_open_window(ticket):
    """The planned start is not in the past, inside a standard window and outside every freeze
    covering the ticket (emergency: any time), and the slot overlaps no ticket on the same feature
    or kill-switch path."""
    if ticket.planned_start is None:
        return None  # tickets' own planned_start_is_set says so
    now = clock.now()
    far = policy.too_far_ahead(ticket.planned_start, now)
    if far:
        return far
    slot = policy.booked_slot(ticket)
    if slot.start < now - policy.PAST_GRACE:
        return f"The planned start {policy.local_short(slot.start)} is in the past."
    if not policy.is_emergency(ticket):
        active = policy.current_policy()
        if policy.window_containing(slot.start, active) is None:
            return (
                f"{policy.local_day(slot.start, active)} is outside the standard window "
                f"({active.describe()})."
            )
        frozen = policy.freezes_overlapping(ticket, slot.start, slot.end)
        if frozen:
            return _frozen_reason(frozen, slot.start)
    others = policy.conflicting_tickets(ticket, slot.start, slot.end)
    if others:
        return _conflict_reason(ticket, others)
    return None


@register("start")
def now_is_inside_the_booked_slot(ticket):
    """A ramp starts inside its booked slot and outside every freeze covering it (emergency: any
    time)."""
    if policy.is_emergency(ticket):
        return None
    slot = policy.booked_slot(ticket)
    if slot is None:
        return "The ticket has no booked slot."
    now = clock.now()
    if now < slot.start:
        return f"Too early: the booked slot opens {policy.local_short(slot.start)}."
    if now >= slot.end:
        return (
            f"The booked slot closed {policy.local_short(slot.end)}; move the slot to book a new "
            "one."
        )
    frozen = policy.freezes_covering(ticket, now)
    if frozen:
        return _frozen_reason(frozen, now)
    return None


def _shared_with(ticket, other) -> str:
    if other.feature_id == ticket.feature_id:
        return f"same feature {other.feature.slug}"
    return f"same kill switch {other.kill_switch}"


def no_other_ramp_on_the_feature_or_kill_switch(ticket):
    """No other ticket on the same feature or kill-switch path is ramping or halted: slots booked
    apart still meet when the first ramp runs past its slot, and the gateway must never carry two
    ramps of one feature. (The ticket's transition locks its feature row, so two starts on one
    feature take turns and the second one sees the first.)"""
    others = policy.active_ramps_sharing(ticket)
    if not others:
        return None
    named = "; ".join(
        f"{other.change_id} ({other.state}, {_shared_with(ticket, other)})" for other in others
    )
    return f"Another ramp holds this feature or kill switch: {named}. Wait until it ends."


register("start")(no_other_ramp_on_the_feature_or_kill_switch)
register("resume")(no_other_ramp_on_the_feature_or_kill_switch)


@register("promote")
def promotion_is_inside_a_window_and_outside_freezes(ticket):
    """Promotions happen inside a standard window and wait out a freeze covering the ticket
    (lockdown); emergency: any time."""
    return policy.promotion_hold_reason(ticket, clock.now())
