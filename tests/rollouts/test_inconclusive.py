"""Inconclusive is not healthy: a bake that ends without the minimum samples holds and tells the
release manager once; a manual "promote now" meets the same guards."""

from datetime import timedelta

import pytest
import time_machine

from changemgmt.rollouts.services import rollout_promote_now
from changemgmt.tickets.services import TransitionRefused
from tests.rollouts.conftest import feed, ny, stage_percent, tick


def test_it_holds_and_notifies_the_release_manager_once(
    ramping_ticket, mailoutbox, django_capture_on_commit_callbacks
):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10), n=19)
    with django_capture_on_commit_callbacks(execute=True):
        assert tick(ny(2027, 2, 10, 10, 30)) == [(ramping_ticket.change_id, "held: inconclusive")]
    with django_capture_on_commit_callbacks(execute=True):
        assert tick(ny(2027, 2, 10, 10, 31)) == []
    assert stage_percent(ramping_ticket) == 1
    inconclusive = [m for m in mailoutbox if "inconclusive" in m.subject]
    assert len(inconclusive) == 1
    assert inconclusive[0].to == [ramping_ticket.release_manager.email]
    assert "eval_score_drift (1 more)" in inconclusive[0].body


def test_it_promotes_once_the_missing_samples_arrive(ramping_ticket):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10), n=19)
    tick(ny(2027, 2, 10, 10, 30))
    feed(ramping_ticket, ny(2027, 2, 10, 10, 35), n=1)
    assert tick(ny(2027, 2, 10, 10, 36)) == [(ramping_ticket.change_id, "promoted to 10%")]


def test_it_counts_only_gating_guards_for_the_minimum(ramping_ticket):
    ramping_ticket.guards.exclude(metric="error_rate").update(observe_only=True)
    from changemgmt.rollouts.services import samples_record

    with time_machine.travel(ny(2027, 2, 10, 10, 11), tick=False):
        samples_record(
            ramping_ticket,
            acting_user=None,
            samples=[
                {
                    "metric": "error_rate",
                    "value": 0.001,
                    "observed_at": ny(2027, 2, 10, 10, 10) + timedelta(seconds=k),
                }
                for k in range(20)
            ],
        )
    assert tick(ny(2027, 2, 10, 10, 30)) == [(ramping_ticket.change_id, "promoted to 10%")]


def test_it_refuses_a_manual_promotion_before_the_bake_ends(ramping_ticket, release_manager):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    with time_machine.travel(ny(2027, 2, 10, 10, 20), tick=False):
        with pytest.raises(TransitionRefused) as refused:
            rollout_promote_now(ramping_ticket, acting_user=release_manager)
    assert refused.value.guard == "stage_bake_has_elapsed"
    assert stage_percent(ramping_ticket) == 1


def test_it_refuses_a_manual_promotion_without_samples(ramping_ticket, release_manager):
    with time_machine.travel(ny(2027, 2, 10, 10, 40), tick=False):
        with pytest.raises(TransitionRefused) as refused:
            rollout_promote_now(ramping_ticket, acting_user=release_manager)
    assert refused.value.guard == "stage_has_minimum_samples"


def test_it_promotes_manually_through_the_same_guards(ramping_ticket, release_manager):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    with time_machine.travel(ny(2027, 2, 10, 10, 40), tick=False):
        rollout_promote_now(ramping_ticket, acting_user=release_manager, reason="bridge agreed")
    assert stage_percent(ramping_ticket) == 10
    assert ramping_ticket.history.first().history_user == release_manager


def test_it_deploys_on_a_plain_promote_into_the_last_stage(ramping_ticket, release_manager):
    """The generic promote (ticket page, API) does not say "final": the ramp tells tickets
    whether it is, so the promotion into the last stage deploys at once."""
    from changemgmt.tickets.services import ticket_transition

    ticket = ramping_ticket
    feed(ticket, ny(2027, 2, 10, 10, 10))
    tick(ny(2027, 2, 10, 10, 30))
    feed(ticket, ny(2027, 2, 10, 10, 40))
    tick(ny(2027, 2, 10, 14, 30))
    feed(ticket, ny(2027, 2, 10, 15, 0))
    with time_machine.travel(ny(2027, 2, 11, 14, 35), tick=False):
        ticket_transition(ticket, "promote", acting_user=release_manager, reason="bridge call")
    ticket.refresh_from_db()
    assert (ticket.state, stage_percent(ticket)) == ("deployed", 100)
    assert tick(ny(2027, 2, 11, 14, 36)) == []
