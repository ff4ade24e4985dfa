"""Breaches: a threshold crossed halts, a severe one rolls back, observe-only never acts, and a
halted ramp resumes only once every breach is acknowledged."""

import pytest
import time_machine

from changemgmt.audit.recording import SYSTEM_USERNAME
from changemgmt.rollouts.models import Breach
from changemgmt.rollouts.services import breach_acknowledge
from changemgmt.tickets.services import TransitionRefused, ticket_transition
from tests.rollouts.conftest import feed, ny, stage_percent, tick


@pytest.fixture
def at_ten_percent(ramping_ticket):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    tick(ny(2027, 2, 10, 10, 30))
    assert stage_percent(ramping_ticket) == 10
    return ramping_ticket


def test_it_halts_on_a_breach_naming_metric_value_and_threshold(at_ten_percent):
    ticket = at_ten_percent
    feed(ticket, ny(2027, 2, 10, 11, 0), n=1, error_rate=0.031)
    assert tick(ny(2027, 2, 10, 11, 1)) == [
        (ticket.change_id, "halted: error_rate 0.031 > 0.02 at 10% stage")
    ]
    ticket.refresh_from_db()
    assert ticket.state == "halted"
    assert ticket.last_reason == "error_rate 0.031 > 0.02 at 10% stage"
    last = ticket.history.first()
    assert last.history_user.username == SYSTEM_USERNAME
    breach = Breach.objects.get(ticket=ticket)
    assert (breach.metric, breach.value, breach.threshold, breach.severe) == (
        "error_rate",
        0.031,
        0.02,
        False,
    )
    assert stage_percent(ticket) == 10  # traffic held where it is


def test_it_halts_on_a_spike_even_when_later_samples_are_healthy(at_ten_percent):
    ticket = at_ten_percent
    feed(ticket, ny(2027, 2, 10, 11, 0), n=1, negative_feedback_rate=0.2 / 3)
    feed(ticket, ny(2027, 2, 10, 11, 0, 30), n=5)
    tick(ny(2027, 2, 10, 11, 1))
    ticket.refresh_from_db()
    assert ticket.state == "halted"


def test_it_rolls_back_on_a_severe_breach(at_ten_percent):
    ticket = at_ten_percent
    feed(ticket, ny(2027, 2, 10, 11, 0), n=1, error_rate=0.08)
    assert tick(ny(2027, 2, 10, 11, 1)) == [
        (ticket.change_id, "rolled back: error_rate 0.08 > 0.05 at 10% stage")
    ]
    ticket.refresh_from_db()
    assert ticket.state == "rolled_back"
    assert Breach.objects.get(ticket=ticket).severe


def test_it_rolls_back_a_halted_ramp_on_a_severe_breach(at_ten_percent):
    ticket = at_ten_percent
    feed(ticket, ny(2027, 2, 10, 11, 0), n=1, error_rate=0.03)
    tick(ny(2027, 2, 10, 11, 1))
    feed(ticket, ny(2027, 2, 10, 11, 2), n=1, latency_p95_ms=9000)
    tick(ny(2027, 2, 10, 11, 3))
    ticket.refresh_from_db()
    assert ticket.state == "rolled_back"


def test_it_never_acts_on_an_observe_only_guard(at_ten_percent):
    ticket = at_ten_percent
    ticket.guards.filter(metric="latency_p95_ms").update(observe_only=True)
    feed(ticket, ny(2027, 2, 10, 11, 0), latency_p95_ms=99_000)
    tick(ny(2027, 2, 10, 11, 1))
    ticket.refresh_from_db()
    assert ticket.state == "ramping"
    assert tick(ny(2027, 2, 10, 14, 30)) == [(ticket.change_id, "promoted to 50%")]


def test_it_resumes_only_after_every_breach_is_acknowledged(at_ten_percent, release_manager):
    ticket = at_ten_percent
    feed(ticket, ny(2027, 2, 10, 11, 0), n=1, error_rate=0.031)
    tick(ny(2027, 2, 10, 11, 1))
    with time_machine.travel(ny(2027, 2, 10, 11, 30), tick=False):
        with pytest.raises(TransitionRefused) as refused:
            ticket_transition(ticket, "resume", acting_user=release_manager)
        assert refused.value.guard == "every_breach_is_acknowledged"
        breach_acknowledge(
            Breach.objects.get(ticket=ticket), acting_user=release_manager, note="checked"
        )
        ticket_transition(ticket, "resume", acting_user=release_manager)
    ticket.refresh_from_db()
    assert ticket.state == "ramping"
    # The stage bakes again from the resume, on fresh samples: the old spike no longer counts.
    assert tick(ny(2027, 2, 10, 11, 31)) == []
    feed(ticket, ny(2027, 2, 10, 11, 40))
    assert tick(ny(2027, 2, 10, 15, 29)) == []
    assert tick(ny(2027, 2, 10, 15, 30)) == [(ticket.change_id, "promoted to 50%")]


def test_it_refuses_an_acknowledgement_from_anyone_but_a_release_manager(at_ten_percent, author):
    from django.core.exceptions import PermissionDenied

    feed(at_ten_percent, ny(2027, 2, 10, 11, 0), n=1, error_rate=0.031)
    tick(ny(2027, 2, 10, 11, 1))
    with pytest.raises(PermissionDenied):
        breach_acknowledge(
            Breach.objects.get(ticket=at_ten_percent), acting_user=author, note="mine"
        )
    assert Breach.objects.get(ticket=at_ten_percent).acknowledged_at is None
