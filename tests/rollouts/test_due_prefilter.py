"""The sweeper only opens the ramps that may need action; the others cost it nothing."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from changemgmt.rollouts.sweeper import advance_all, due_ticket_ids
from tests.rollouts.conftest import feed, ny


def test_it_skips_a_healthy_ramp_mid_bake(ramping_ticket):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 5), latency_p95_ms=2400)  # under its 2500 threshold
    assert due_ticket_ids(ny(2027, 2, 10, 10, 20)) == []
    with CaptureQueriesContext(connection) as queries:
        assert advance_all(ny(2027, 2, 10, 10, 20)) == []
    assert len(queries) <= 3


def test_it_picks_a_ramp_whose_bake_ended(ramping_ticket):
    assert due_ticket_ids(ny(2027, 2, 10, 10, 30)) == [ramping_ticket.pk]


def test_it_picks_a_breach_mid_bake_on_the_breaching_guard_only(ramping_ticket):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 5), n=1, error_rate=0.021)
    assert due_ticket_ids(ny(2027, 2, 10, 10, 6)) == [ramping_ticket.pk]


def test_it_picks_a_drift_in_either_direction(ramping_ticket):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 5), n=1, eval_score_drift=-0.03)
    assert due_ticket_ids(ny(2027, 2, 10, 10, 6)) == [ramping_ticket.pk]
    assert advance_all(ny(2027, 2, 10, 10, 6)) == [
        (ramping_ticket.change_id, "halted: eval_score_drift -0.03 > 0.02 at 1% stage")
    ]


def test_it_ignores_an_observe_only_guard(ramping_ticket):
    ramping_ticket.guards.filter(metric="error_rate").update(observe_only=True)
    feed(ramping_ticket, ny(2027, 2, 10, 10, 5), n=1, error_rate=0.5)
    assert due_ticket_ids(ny(2027, 2, 10, 10, 6)) == []
