"""A breaching sample acts whenever it arrives (issue 11 item 3): observed during the 1% stage but
posted after the promotion to 10%, it used to be filed under the finished stage and ignored."""

from datetime import timedelta

import time_machine

from changemgmt.rollouts.models import Breach
from changemgmt.rollouts.services import breach_acknowledge, samples_record
from changemgmt.tickets.services import ticket_transition
from tests.rollouts.conftest import feed, ny, stage_percent, tick

PROMOTED = ny(2027, 2, 10, 10, 30)


def at_ten_percent(ticket):
    feed(ticket, ny(2027, 2, 10, 10, 10))
    assert tick(PROMOTED) == [(ticket.change_id, "promoted to 10%")]
    return ticket


def post_late(ticket, value, observed, arrived):
    row = {"metric": "error_rate", "value": value, "observed_at": observed}
    with time_machine.travel(arrived, tick=False):
        samples_record(ticket, acting_user=None, samples=[row])


def test_it_rolls_back_on_a_severe_sample_that_arrives_after_the_promotion(ramping_ticket):
    ticket = at_ten_percent(ramping_ticket)
    observed, arrived = ny(2027, 2, 10, 10, 28), ny(2027, 2, 10, 10, 32)
    post_late(ticket, 0.30, observed, arrived)
    # Mid-bake of the 10% stage: only the breach brings the ramp into the tick.
    [(change_id, outcome)] = tick(arrived + timedelta(minutes=1))
    assert change_id == ticket.change_id
    assert outcome.startswith("rolled back: error_rate 0.3 > 0.05 at 10% stage")
    assert "observed Wed 2027-02-10 10:28 EST in the 1% stage" in outcome
    assert "arrived Wed 2027-02-10 10:32 EST" in outcome
    ticket.refresh_from_db()
    assert ticket.state == "rolled_back"
    breach = Breach.objects.get(ticket=ticket)
    assert breach.severe and breach.value == 0.30
    assert (breach.observed_at, breach.received_at) == (observed, arrived)


def test_it_halts_on_a_late_breach_and_refuses_to_promote_over_it(ramping_ticket):
    ticket = at_ten_percent(ramping_ticket)
    post_late(ticket, 0.03, ny(2027, 2, 10, 10, 29), ny(2027, 2, 10, 10, 40))
    [(_, outcome)] = tick(ny(2027, 2, 10, 10, 41))
    assert outcome.startswith("halted: error_rate 0.03 > 0.02 at 10% stage (observed")
    ticket.refresh_from_db()
    assert ticket.state == "halted" and stage_percent(ticket) == 10


def test_it_does_not_act_twice_on_a_late_sample_once_resumed(ramping_ticket, release_manager):
    # Judged when it arrived (halt), acknowledged, resumed: the stage bakes again on fresh data.
    ticket = at_ten_percent(ramping_ticket)
    post_late(ticket, 0.03, ny(2027, 2, 10, 10, 29), ny(2027, 2, 10, 10, 40))
    tick(ny(2027, 2, 10, 10, 41))
    with time_machine.travel(ny(2027, 2, 10, 10, 45), tick=False):
        breach_acknowledge(Breach.objects.get(), acting_user=release_manager, note="late sample")
        ticket_transition(ticket, "resume", acting_user=release_manager)
    assert tick(ny(2027, 2, 10, 10, 46)) == []
    ticket.refresh_from_db()
    assert ticket.state == "ramping" and Breach.objects.count() == 1
