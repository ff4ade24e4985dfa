"""schedule, start, promote, halt, resume, roll_back, close and cancel (DESIGN.md lifecycle table).

Window, freeze, kill-switch and ramp guards belong to the apps above tickets and are tested there;
here the ticket's own rules are exercised.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied

from changemgmt import clock
from changemgmt.audit.recording import save_audited, system_user
from changemgmt.tickets import services
from changemgmt.tickets.models import TERMINAL_STATES, State
from tests.factories import FeatureFactory, TicketFactory, UserFactory
from tests.tickets.factories import approved, only_ticket_rules, walk

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ticket_rules_only(select_guards):
    only_ticket_rules(select_guards)


def refused(ticket, name, user, **kwargs):
    with pytest.raises(services.TransitionRefused) as caught:
        services.ticket_transition(ticket, name, acting_user=user, **kwargs)
    return caught.value


def test_it_schedules_an_approved_ticket_at_the_planned_start(author, release_manager):
    ticket = approved(author, release_manager)
    start = clock.now() + timedelta(days=1)
    services.ticket_transition(ticket, "schedule", acting_user=release_manager, planned_start=start)
    ticket.refresh_from_db()
    assert ticket.state == State.SCHEDULED and ticket.planned_start == start


def test_it_refuses_to_schedule_without_a_planned_start(author, release_manager):
    ticket = approved(author, release_manager)
    assert refused(ticket, "schedule", release_manager).guard == "planned_start_is_set"


def test_it_lets_only_a_release_manager_schedule(author, release_manager, cab_platform):
    ticket = approved(author, release_manager)
    with pytest.raises(PermissionDenied, match="Only a release manager may schedule"):
        services.ticket_transition(
            ticket, "schedule", acting_user=author, planned_start=clock.now()
        )


def test_it_refuses_schedule_before_approval(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    problem = refused(ticket, "schedule", release_manager, planned_start=clock.now())
    assert problem.guard == "state" and "draft ticket cannot schedule" in problem.message


def test_it_starts_the_ramp_of_a_scheduled_ticket(author, release_manager):
    ticket = walk(approved(author, release_manager), release_manager, "schedule", "start")
    assert ticket.state == State.RAMPING and ticket.started_at is not None


def test_it_refuses_to_start_a_ticket_changed_after_approval(author, release_manager):
    ticket = walk(approved(author, release_manager), release_manager, "schedule")
    ticket.rollback_plan += " 4. Page the on-call."
    save_audited(ticket, acting_user=author, reason="edited behind the CAB's back")
    assert refused(ticket, "start", release_manager).guard == "ticket_unchanged_since_approval"


def test_it_refuses_transition_inputs_that_would_rewrite_the_ticket(author, release_manager):
    ticket = approved(author, release_manager)
    with pytest.raises(TypeError):
        services.ticket_transition(
            ticket, "schedule", acting_user=release_manager, planned_start=clock.now(), title="x"
        )
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED


def test_it_keeps_separation_of_release_duties_on_high_tier():
    both = UserFactory(roles=["author", "release_manager"])
    independent = UserFactory(roles=["release_manager"])
    ticket = TicketFactory(
        author=both, release_manager=independent, feature=FeatureFactory(risk_tier="high")
    )
    # An emergency approval is the shortest way to approved (quorum is tested elsewhere).
    ticket.emergency = True
    ticket.emergency_justification = "Regulator deadline."
    save_audited(ticket, acting_user=both, reason="flag")
    services.ticket_transition(
        ticket,
        "emergency_approve",
        acting_user=UserFactory(roles=["exec_approver"]),
        reason="jailbreak is public",
    )
    with pytest.raises(PermissionDenied, match="for High tier, not the author"):
        services.ticket_transition(ticket, "schedule", acting_user=both, planned_start=clock.now())
    services.ticket_transition(
        ticket, "schedule", acting_user=independent, planned_start=clock.now()
    )


def test_it_promotes_stage_by_stage_and_deploys_on_the_last(author, release_manager):
    ticket = walk(approved(author, release_manager), release_manager, "schedule", "start")
    services.ticket_transition(ticket, "promote", acting_user=system_user(), final=False)
    ticket.refresh_from_db()
    assert ticket.state == State.RAMPING
    services.ticket_transition(ticket, "promote", acting_user=release_manager, final=True)
    ticket.refresh_from_db()
    assert ticket.state == State.DEPLOYED and ticket.deployed_at is not None


def test_it_lets_only_a_release_manager_or_the_system_promote(author, release_manager):
    ticket = walk(approved(author, release_manager), release_manager, "schedule", "start")
    with pytest.raises(PermissionDenied, match="release manager or the ramp controller"):
        services.ticket_transition(ticket, "promote", acting_user=author)


@pytest.mark.parametrize("name", ["halt", "roll_back"])
def test_it_requires_a_reason_to_halt_or_roll_back(author, release_manager, name):
    ticket = walk(approved(author, release_manager), release_manager, "schedule", "start")
    assert refused(ticket, name, release_manager).guard == "reason_is_given"


def test_it_halts_holds_and_resumes(author, release_manager):
    ticket = walk(approved(author, release_manager), release_manager, "schedule", "start")
    services.ticket_transition(
        ticket, "halt", acting_user=system_user(), reason="error_rate 0.031 > 0.02 at 10% stage"
    )
    ticket.refresh_from_db()
    assert ticket.state == State.HALTED and ticket.halted_at is not None
    assert ticket.last_reason == "error_rate 0.031 > 0.02 at 10% stage"
    assert refused(ticket, "promote", release_manager).guard == "state"
    with pytest.raises(PermissionDenied):
        services.ticket_transition(ticket, "resume", acting_user=system_user())
    services.ticket_transition(ticket, "resume", acting_user=release_manager)
    ticket.refresh_from_db()
    assert ticket.state == State.RAMPING and ticket.halted_at is None


@pytest.mark.parametrize("steps", [("start",), ("start", "halt"), ("start", "deploy")])
def test_it_rolls_back_from_ramping_halted_or_deployed(author, release_manager, steps):
    ticket = walk(approved(author, release_manager), release_manager, "schedule", *steps)
    services.ticket_transition(
        ticket, "roll_back", acting_user=release_manager, reason="groundedness drift"
    )
    ticket.refresh_from_db()
    assert ticket.state == State.ROLLED_BACK and ticket.rolled_back_at is not None


def test_it_refuses_roll_back_before_the_ramp(author, release_manager):
    ticket = walk(approved(author, release_manager), release_manager, "schedule")
    assert refused(ticket, "roll_back", release_manager, reason="x").guard == "state"


@pytest.mark.parametrize("steps", [("deploy",), ("roll_back",)])
def test_it_closes_with_the_review_notes(author, release_manager, steps):
    ticket = walk(approved(author, release_manager), release_manager, "schedule", "start", *steps)
    problem = refused(ticket, "close", release_manager)
    assert problem.guard == "review_notes_are_written"
    services.ticket_transition(
        ticket,
        "close",
        acting_user=release_manager,
        review_notes="Post-deploy review: metrics held.",
        metrics_held=True,
    )
    ticket.refresh_from_db()
    assert ticket.state == State.CLOSED and ticket.metrics_held is True
    assert ticket.review_notes == "Post-deploy review: metrics held."


def test_it_lets_only_a_release_manager_close(author, release_manager):
    ticket = walk(approved(author, release_manager), release_manager, "schedule", "start", "deploy")
    with pytest.raises(PermissionDenied, match="Only a release manager may close"):
        services.ticket_transition(ticket, "close", acting_user=author, review_notes="done")


@pytest.mark.parametrize("steps", [(), ("schedule",)])
@pytest.mark.parametrize("who", ["author", "release_manager"])
def test_it_cancels_before_the_ramp_by_author_or_release_manager(
    author, release_manager, steps, who
):
    ticket = walk(approved(author, release_manager), release_manager, *steps)
    user = {"author": author, "release_manager": release_manager}[who]
    assert refused(ticket, "cancel", user).guard == "reason_is_given"
    services.ticket_transition(ticket, "cancel", acting_user=user, reason="superseded")
    ticket.refresh_from_db()
    assert ticket.state == State.CANCELLED


def test_it_cancels_a_draft_and_refuses_others(author, release_manager, cab_platform):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    with pytest.raises(PermissionDenied, match="author or a release manager"):
        services.ticket_transition(ticket, "cancel", acting_user=cab_platform, reason="no")
    services.ticket_transition(ticket, "cancel", acting_user=author, reason="not needed")
    ticket.refresh_from_db()
    assert ticket.state == State.CANCELLED


def test_it_refuses_cancel_once_ramping(author, release_manager):
    ticket = walk(approved(author, release_manager), release_manager, "schedule", "start")
    assert refused(ticket, "cancel", release_manager, reason="x").guard == "state"


def test_it_never_leaves_a_terminal_state(author, release_manager, cab, exec_approver):
    closed = walk(approved(author, release_manager), release_manager, "schedule", "start", "deploy")
    services.ticket_transition(closed, "close", acting_user=release_manager, review_notes="ok")
    cancelled = TicketFactory(author=author, release_manager=release_manager)
    services.ticket_transition(cancelled, "cancel", acting_user=author, reason="x")
    people = [author, release_manager, exec_approver, system_user(), *cab.values()]
    for ticket in (closed, cancelled):
        ticket.refresh_from_db()
        assert ticket.state in TERMINAL_STATES
        for person in people:
            assert services.available_transitions(ticket, person) == []
