"""When each stage of a ramp would promote, against the calendar: the one projection the schedule
warning, the ticket page's timeline, the dashboard's "Next:" line and the calendar's ramp bars
read (issue 16 item 8).

A stage promotes when its bake has elapsed, at the first instant the window rule allows after
that (windows.policy.next_promotion_at: inside a standard window, outside every freeze covering
the ticket; emergency changes at once). The projection assumes every bake passes healthy with
its samples in: it is the earliest the ramp can go, never a promise.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from changemgmt import clock
from changemgmt.windows import policy

from . import health
from .plans import default_plan

PROJECTED_STATES = ("approved", "scheduled", "ramping", "halted")


@dataclass(frozen=True)
class Step:
    """One stage on the projected timeline."""

    number: int
    percent: int
    bake: timedelta
    enters_at: datetime  # traffic reaches this stage (planned or done)
    bake_ends_at: datetime
    leaves_at: datetime | None  # the promotion to the next stage (None: the last stage)
    held_by: str = ""  # why leaves_at is later than bake_ends_at ("" when it is not)
    status: str = "ahead"  # done, current or ahead


@dataclass
class Projection:
    start: datetime
    steps: list[Step]
    slot_ends_at: datetime | None
    ends_at: datetime | None  # the last stage's entry (deployed); None past the search horizon
    warnings: list[str] = field(default_factory=list)
    halted: bool = False


def bake_label(bake: timedelta) -> str:
    minutes = int(bake.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes and minutes % 60 == 0 else f"{minutes} min"


def _held_by(ticket, bake_end: datetime, leaves: datetime) -> str:
    if leaves <= bake_end:
        return ""
    frozen = policy.freezes_covering(ticket, bake_end)
    if frozen:
        return f"freeze '{max(frozen, key=lambda f: f.ends_at).name}'"
    return "the next window"


def _plan(ticket, stages) -> list[tuple[int, timedelta, object]]:
    """(percent, bake, RampStage or None) per stage; the tier default before a plan exists."""
    rows = stages if stages is not None else list(ticket.ramp_stages.order_by("index"))
    if rows:
        return [(s.percent, s.bake, s) for s in rows]
    return [
        (s["percent"], timedelta(minutes=s["bake_minutes"]), None)
        for s in default_plan(ticket.risk_tier)
    ]


def _started(ticket, plan, ramp, now):
    """Steps already walked, and where the current stage's bake counts from."""
    done = []
    current = ramp.current_index
    for i in range(min(current, len(plan))):
        percent, bake, stage = plan[i]
        entered = stage.entered_at if stage else None
        nxt = plan[i + 1][2]
        left = nxt.entered_at if nxt and nxt.entered_at else entered
        if entered is None:
            continue
        done.append(Step(i + 1, percent, bake, entered, entered + bake, left, "", "done"))
    stage = plan[current][2]
    entered = (stage.entered_at if stage else None) or ramp.bake_started_at or now
    # Halted: traffic is held; the projection is what a resume now would give (the bake restarts).
    bake_from = now if ticket.state == "halted" else (ramp.bake_started_at or entered)
    return done, entered, bake_from


def project_ramp(ticket, *, planned_start=None, now=None, stages=None) -> Projection | None:
    """The projected timeline of `ticket`'s whole ramp: from `planned_start` (or the booked
    start) for a ramp not yet started, from where it stands for a running one. None when there is
    nothing to project (no start, or the ramp is over)."""
    now = now or clock.now()
    active = policy.current_policy()
    plan = _plan(ticket, stages)
    ramp = health.ramp_of(ticket)
    running = ticket.state in ("ramping", "halted") and ramp and 0 <= ramp.current_index
    if ticket.state not in PROJECTED_STATES or not plan:
        return None
    if running and ramp.current_index < len(plan):
        steps, entered, bake_from = _started(ticket, plan, ramp, now)
        first, start = ramp.current_index, steps[0].enters_at if steps else entered
        slot_ends_at = None
    else:
        start = planned_start or ticket.planned_start
        if start is None or running:
            return None
        steps, entered, bake_from, first = [], start, start, 0
        slot_ends_at = policy.slot_end_for(ticket, start, active)
    ends_at, current = None, first if running else -1
    for i in range(first, len(plan)):
        percent, bake, _ = plan[i]
        last = i == len(plan) - 1
        bake_end = bake_from + bake
        if last:
            steps.append(
                Step(i + 1, percent, bake, entered, bake_end, None, "", _status(i, current))
            )
            ends_at = entered
            break
        try:
            leaves = policy.next_promotion_at(ticket, max(bake_end, now), active)
        except ValueError:
            break  # no window within the search horizon: say nothing rather than guess
        held = _held_by(ticket, bake_end, leaves)
        steps.append(
            Step(i + 1, percent, bake, entered, bake_end, leaves, held, _status(i, current))
        )
        entered = bake_from = leaves
    projection = Projection(start, steps, slot_ends_at, ends_at, halted=ticket.state == "halted")
    projection.warnings = _warnings(ticket, projection, running, active)
    return projection


def _status(index: int, current: int) -> str:
    return "current" if index == current else "ahead"


def _warnings(ticket, projection, running, active) -> list[str]:
    """What the release manager should know before booking (a warning, never a refusal)."""
    if policy.is_emergency(ticket):
        return []
    warnings = []
    steps = projection.steps
    if not running and steps and steps[0].leaves_at is not None:
        first, slot_end = steps[0], projection.slot_ends_at
        # Windows are half-open: a bake ending at the 16:00 close cannot promote at 16:00.
        if slot_end is not None and first.bake_ends_at >= slot_end:
            nxt = steps[1].percent if len(steps) > 1 else 100
            warnings.append(
                f"The first stage ({first.percent}%, {bake_label(first.bake)} bake) cannot finish "
                f"inside this slot: its bake ends {policy.local_short(first.bake_ends_at, active)}, "
                f"at or after the slot closes at {policy.local_short(slot_end, active)}. "
                f"{nxt}% waits until {policy.local_short(first.leaves_at, active)}."
            )
    for step, nxt in zip(steps, steps[1:], strict=False):
        if step.held_by.startswith("freeze") and step.status != "done":
            warnings.append(
                f"{step.held_by[0].upper()}{step.held_by[1:]} holds the promotion to "
                f"{nxt.percent}% from {policy.local_short(step.bake_ends_at, active)} until "
                f"{policy.local_short(step.leaves_at, active)}."
            )
    if steps and projection.ends_at is None:
        warnings.append("No release window outside the freezes within the search horizon.")
    return warnings


def schedule_warnings(ticket, planned_start, slot_ends_at) -> list[str]:
    """windows' schedule hook: the projection's warnings for a slot about to be booked."""
    projection = project_ramp(ticket, planned_start=planned_start)
    return projection.warnings if projection else []
