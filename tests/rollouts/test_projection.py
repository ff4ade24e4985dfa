"""Issue 16.8: the projected timeline of a whole ramp against the calendar (bakes, windows,
freezes), the one projection the schedule warning and the ticket page read. The clock is moved
with time-machine; the plan is the Medium tier's 1% (30 min) → 10% (4 h) → 50% (24 h) → 100%."""

from datetime import timedelta

import pytest
import time_machine

from changemgmt.rollouts.projection import project_ramp
from changemgmt.windows.services import ticket_schedule
from tests.rollouts.conftest import WEDNESDAY_10, feed, ny, start, tick
from tests.windows.factories import make_freeze

pytestmark = pytest.mark.django_db

MONDAY_9 = ny(2027, 2, 8, 9)


def timeline(projection):
    return [(s.percent, s.enters_at, s.leaves_at, s.held_by, s.status) for s in projection.steps]


def test_a_wednesday_10_booking_deploys_thursday_14_30_without_a_warning(scheduled_ticket):
    with time_machine.travel(MONDAY_9, tick=False):
        projection = project_ramp(scheduled_ticket)
    assert timeline(projection) == [
        (1, WEDNESDAY_10, ny(2027, 2, 10, 10, 30), "", "ahead"),
        (10, ny(2027, 2, 10, 10, 30), ny(2027, 2, 10, 14, 30), "", "ahead"),
        (50, ny(2027, 2, 10, 14, 30), ny(2027, 2, 11, 14, 30), "", "ahead"),
        (100, ny(2027, 2, 11, 14, 30), None, "", "ahead"),
    ]
    assert projection.ends_at == ny(2027, 2, 11, 14, 30)
    assert projection.slot_ends_at == ny(2027, 2, 10, 16)
    assert projection.warnings == []


def test_a_15_30_slot_warns_that_the_first_bake_cannot_finish_before_the_16_00_close(
    scheduled_ticket,
):
    with time_machine.travel(MONDAY_9, tick=False):
        projection = project_ramp(scheduled_ticket, planned_start=ny(2027, 2, 10, 15, 30))
    assert timeline(projection)[0] == (
        1,
        ny(2027, 2, 10, 15, 30),
        ny(2027, 2, 11, 10),
        "the next window",
        "ahead",
    )
    # 10% bakes Thursday 10:00–14:00, 50% until Friday 14:00: Friday is not a window day.
    assert [s.enters_at for s in projection.steps[1:]] == [
        ny(2027, 2, 11, 10),
        ny(2027, 2, 11, 14),
        ny(2027, 2, 16, 10),
    ]
    assert projection.warnings == [
        "The first stage (1%, 30 min bake) cannot finish inside this slot: its bake ends "
        "Wed 2027-02-10 16:00 EST, at or after the slot closes at Wed 2027-02-10 16:00 EST. "
        "10% waits until Thu 2027-02-11 10:00 EST."
    ]


def test_a_freeze_on_the_way_holds_a_promotion_and_says_so(scheduled_ticket):
    make_freeze("Quarter-end close", ny(2027, 2, 11, 0), ny(2027, 2, 16, 12))
    with time_machine.travel(MONDAY_9, tick=False):
        projection = project_ramp(scheduled_ticket)
    fifty = projection.steps[2]
    assert (fifty.leaves_at, fifty.held_by) == (ny(2027, 2, 16, 12), "freeze 'Quarter-end close'")
    assert projection.warnings == [
        "Freeze 'Quarter-end close' holds the promotion to 100% from Thu 2027-02-11 14:30 EST "
        "until Tue 2027-02-16 12:00 EST."
    ]


def test_a_running_ramp_projects_from_where_it_stands_as_the_clock_moves(
    scheduled_ticket, release_manager
):
    ticket = start(scheduled_ticket, release_manager)
    with time_machine.travel(WEDNESDAY_10 + timedelta(minutes=20), tick=False):
        projection = project_ramp(ticket)
    assert [s.status for s in projection.steps] == ["current", "ahead", "ahead", "ahead"]
    assert projection.steps[1].enters_at == ny(2027, 2, 10, 10, 30)

    # Bake over at 10:30 but no samples: at 11:10 the next promotion is "now" at the earliest.
    with time_machine.travel(ny(2027, 2, 10, 11, 10), tick=False):
        projection = project_ramp(ticket)
    assert projection.steps[1].enters_at == ny(2027, 2, 10, 11, 10)
    assert projection.ends_at == ny(2027, 2, 11, 15, 10)

    # Promoted at 11:15: the 1% stage is done, the projection runs from the 10% stage's entry.
    feed(ticket, ny(2027, 2, 10, 10, 5))
    assert tick(ny(2027, 2, 10, 11, 15)) == [(ticket.change_id, "promoted to 10%")]
    ticket.refresh_from_db()
    with time_machine.travel(ny(2027, 2, 10, 12), tick=False):
        projection = project_ramp(ticket)
    assert [(s.percent, s.status) for s in projection.steps] == [
        (1, "done"),
        (10, "current"),
        (50, "ahead"),
        (100, "ahead"),
    ]
    assert projection.steps[0].leaves_at == ny(2027, 2, 10, 11, 15)
    assert projection.steps[2].enters_at == ny(2027, 2, 10, 15, 15)


def test_booking_the_15_30_slot_is_accepted_with_the_warning(scheduled_ticket, release_manager):
    scheduled_ticket.planned_start = None
    with time_machine.travel(MONDAY_9, tick=False):
        ticket, warnings = ticket_schedule(
            scheduled_ticket, acting_user=release_manager, planned_start=ny(2027, 2, 10, 15, 30)
        )
    assert ticket.state == "scheduled" and ticket.planned_start == ny(2027, 2, 10, 15, 30)
    assert any(w.startswith("The first stage (1%, 30 min bake) cannot finish") for w in warnings)


def test_an_emergency_ramp_promotes_at_each_bake_end_without_warnings(scheduled_ticket):
    scheduled_ticket.emergency = True
    scheduled_ticket.retrospective_due = True
    with time_machine.travel(MONDAY_9, tick=False):
        projection = project_ramp(scheduled_ticket, planned_start=ny(2027, 2, 12, 15, 30))
    assert [s.enters_at for s in projection.steps] == [
        ny(2027, 2, 12, 15, 30),
        ny(2027, 2, 12, 16),
        ny(2027, 2, 12, 20),
        ny(2027, 2, 13, 20),
    ]
    assert projection.warnings == []


def test_the_calendar_draws_a_running_ramp_to_its_projected_end(scheduled_ticket, release_manager):
    from changemgmt.windows.calendar import events_between

    ticket = start(scheduled_ticket, release_manager)
    week = (ny(2027, 2, 8), ny(2027, 2, 15))
    with time_machine.travel(ny(2027, 2, 10, 10, 20), tick=False):
        ramps = [e for e in events_between(*week) if e["kind"] == "ramp"]
    assert [(e["start"], e["end"]) for e in ramps] == [(WEDNESDAY_10, ny(2027, 2, 11, 14, 30))]
    assert (
        "at 1%" in ramps[0]["title"] and "10% Wed 2027-02-10 10:30 EST" in ramps[0]["description"]
    )

    # Halted at 11:00: held where it is, drawn up to now.
    with time_machine.travel(ny(2027, 2, 10, 11), tick=False):
        from changemgmt.tickets.services import ticket_transition

        ticket_transition(ticket, "halt", acting_user=release_manager, reason="latency spike")
    with time_machine.travel(ny(2027, 2, 10, 12), tick=False):
        ramps = [e for e in events_between(*week) if e["kind"] == "ramp"]
    assert ramps[0]["end"] == ny(2027, 2, 10, 12) and "(halted)" in ramps[0]["title"]
