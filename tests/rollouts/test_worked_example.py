"""The article's worked example, clock and all: Wednesday 10:00 1% → 10:30 10% → 14:30 50% →
Thursday 14:30 100%, deployed; every promotion inside the Tue/Wed/Thu 10:00–16:00 window."""

from datetime import timedelta

from changemgmt.audit.recording import SYSTEM_USERNAME
from tests.rollouts.conftest import WEDNESDAY_10, feed, ny, stage_percent, tick


def test_it_enters_the_first_stage_when_the_ramp_starts(ramping_ticket, release_manager):
    assert ramping_ticket.state == "ramping"
    assert ramping_ticket.ramp.current_index == 0
    stage = ramping_ticket.ramp_stages.get(index=0)
    assert (stage.percent, stage.entered_at) == (1, WEDNESDAY_10)
    entered = ramping_ticket.ramp.history.first()
    assert (entered.history_user, entered.history_change_reason) == (
        release_manager,
        "entered 1% stage",
    )


def test_it_plays_the_worked_example_out_exactly(ramping_ticket):
    ticket = ramping_ticket
    feed(ticket, ny(2027, 2, 10, 10, 10))
    assert tick(ny(2027, 2, 10, 10, 29)) == []
    assert stage_percent(ticket) == 1

    assert tick(ny(2027, 2, 10, 10, 30)) == [(ticket.change_id, "promoted to 10%")]
    feed(ticket, ny(2027, 2, 10, 11, 0))
    assert tick(ny(2027, 2, 10, 14, 29)) == []
    tick(ny(2027, 2, 10, 14, 30))
    assert stage_percent(ticket) == 50

    feed(ticket, ny(2027, 2, 10, 15, 0))
    assert tick(ny(2027, 2, 11, 14, 29)) == []
    tick(ny(2027, 2, 11, 14, 30))
    ticket.refresh_from_db()
    assert ticket.state == "deployed"
    assert ticket.deployed_at == ny(2027, 2, 11, 14, 30)
    entered = list(ticket.ramp_stages.order_by("index").values_list("percent", "entered_at"))
    assert entered == [
        (1, ny(2027, 2, 10, 10, 0)),
        (10, ny(2027, 2, 10, 10, 30)),
        (50, ny(2027, 2, 10, 14, 30)),
        (100, ny(2027, 2, 11, 14, 30)),
    ]
    promotions = ticket.history.filter(history_change_reason__startswith="promote")
    assert promotions.count() == 3
    assert {h.history_user.username for h in promotions} == {SYSTEM_USERNAME}


def test_it_waits_for_the_window_when_a_bake_ends_outside_it(ramping_ticket):
    ticket = ramping_ticket
    feed(ticket, ny(2027, 2, 10, 10, 10))
    tick(ny(2027, 2, 10, 10, 30))
    feed(ticket, ny(2027, 2, 10, 10, 40))
    tick(ny(2027, 2, 10, 14, 30))
    feed(ticket, ny(2027, 2, 10, 15, 0))
    ramp = ticket.ramp
    stage = ticket.ramp_stages.get(index=2)
    # The 50% stage was resumed Thursday 11:00, so its bake ends Friday 11:00: Tuesday 10:00.
    stage.bake_minutes = 1440
    ramp.bake_started_at = ny(2027, 2, 11, 11, 0)
    ramp.save()
    feed(ticket, ny(2027, 2, 11, 11, 5))
    assert tick(ny(2027, 2, 12, 11, 0)) == []
    assert tick(ny(2027, 2, 15, 9, 59)) == []  # Monday: still no window
    assert tick(ny(2027, 2, 16, 10, 0)) == [(ticket.change_id, "promoted to 100%")]


def test_it_moves_one_stage_when_the_same_tick_runs_twice(ramping_ticket):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    at = WEDNESDAY_10 + timedelta(minutes=45)
    assert len(tick(at)) == 1
    assert tick(at) == []
    assert tick(at + timedelta(seconds=30)) == []
    assert stage_percent(ramping_ticket) == 10
