"""withdraw, approve, request_changes, reject and emergency_approve (DESIGN.md lifecycle table)."""

import pytest
from django.core.exceptions import PermissionDenied

from changemgmt.audit.recording import system_user
from changemgmt.tickets import rules, services
from changemgmt.tickets.models import State
from tests.factories import TicketFactory, UserFactory
from tests.tickets.factories import ALL_TICKED, approve, only_ticket_rules, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ticket_rules_only(select_guards):
    only_ticket_rules(select_guards)


def test_it_withdraws_a_submitted_ticket_to_draft_and_clears_the_votes(
    author, release_manager, cab_platform, cab_feature
):
    ticket = submitted(author, release_manager)
    approve(ticket, [cab_platform])
    services.ticket_transition(ticket, "withdraw", acting_user=author, reason="fixing the plan")
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT and ticket.cab_round == 2
    # Resubmitted, the old round's approval no longer counts: one new approval is not quorum.
    services.ticket_transition(ticket, "submit", acting_user=author)
    approve(ticket, [cab_feature])
    assert ticket.state == State.SUBMITTED
    assert rules.quorum_missing_seats(ticket) == ["cab_platform"]
    approve(ticket, [cab_platform])
    assert ticket.state == State.APPROVED


def test_it_refuses_withdraw_by_another_user(author, release_manager, cab_platform):
    ticket = submitted(author, release_manager)
    with pytest.raises(PermissionDenied, match="Only the ticket's author may withdraw"):
        services.ticket_transition(ticket, "withdraw", acting_user=release_manager)


def test_it_refuses_withdraw_of_a_draft(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    with pytest.raises(services.TransitionRefused) as refused:
        services.ticket_transition(ticket, "withdraw", acting_user=author)
    assert refused.value.guard == "state"


def test_it_approves_only_as_the_system_user(author, release_manager, cab_platform):
    ticket = submitted(author, release_manager)
    with pytest.raises(PermissionDenied, match="given by the system"):
        services.ticket_transition(ticket, "approve", acting_user=cab_platform)


def test_it_refuses_system_approval_without_quorum(author, release_manager, cab_platform):
    ticket = submitted(author, release_manager)
    approve(ticket, [cab_platform])
    with pytest.raises(services.TransitionRefused) as refused:
        services.ticket_transition(ticket, "approve", acting_user=system_user())
    assert refused.value.guard == "cab_quorum_has_approved"
    assert "still needs: cab_feature" in refused.value.message


def test_it_records_the_quorum_approval_as_the_system_with_the_reason(
    author, release_manager, cab_platform, cab_feature
):
    ticket = approve(submitted(author, release_manager), [cab_platform, cab_feature])
    assert ticket.state == State.APPROVED and not ticket.standard_change
    row = ticket.history.first()
    assert row.history_user.username == "changemgmt-system"
    assert row.history_change_reason == "approve: CAB quorum approved"
    assert ticket.approved_fingerprint == ticket.fingerprint()


def test_it_sends_a_ticket_back_to_draft_when_a_seat_requests_changes(
    author, release_manager, cab_feature
):
    ticket = submitted(author, release_manager)
    services.ticket_transition(
        ticket, "request_changes", acting_user=cab_feature, reason="Name the paging list."
    )
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT and ticket.last_reason == "Name the paging list."
    assert ticket.cab_round == 2


@pytest.mark.parametrize("name", ["request_changes", "reject"])
def test_it_requires_a_comment_to_request_changes_or_reject(
    author, release_manager, cab_feature, name
):
    ticket = submitted(author, release_manager)
    with pytest.raises(services.TransitionRefused) as refused:
        services.ticket_transition(ticket, name, acting_user=cab_feature, reason="  ")
    assert refused.value.guard == "reason_is_given"


@pytest.mark.parametrize("name", ["request_changes", "reject"])
def test_it_lets_only_a_cab_seat_request_changes_or_reject(
    author, release_manager, exec_approver, name
):
    ticket = submitted(author, release_manager)
    with pytest.raises(PermissionDenied, match="Only a CAB seat"):
        services.ticket_transition(ticket, name, acting_user=exec_approver, reason="no")


def test_it_rejects_for_good(author, release_manager, cab_risk):
    ticket = submitted(author, release_manager)
    services.vote_cast(
        ticket, acting_user=cab_risk, decision="reject", comment="Duplicates CHG-2026-00001."
    )
    ticket.refresh_from_db()
    assert ticket.state == State.REJECTED
    assert services.available_transitions(ticket, author) == []
    with pytest.raises(services.TransitionRefused) as refused:
        services.ticket_transition(ticket, "withdraw", acting_user=author)
    assert refused.value.guard == "state"


@pytest.fixture
def emergency_ticket(author, release_manager):
    return TicketFactory(
        author=author,
        release_manager=release_manager,
        emergency=True,
        emergency_justification="Jailbreak public on Friday 17:00; the prompt closes it.",
    )


@pytest.mark.parametrize("submit_first", [False, True])
def test_it_emergency_approves_from_draft_or_submitted_and_marks_it_for_retrospective(
    emergency_ticket, author, exec_approver, submit_first
):
    if submit_first:
        services.ticket_transition(emergency_ticket, "submit", acting_user=author)
    services.ticket_transition(
        emergency_ticket, "emergency_approve", acting_user=exec_approver, reason="jailbreak"
    )
    emergency_ticket.refresh_from_db()
    assert emergency_ticket.state == State.APPROVED
    assert emergency_ticket.retrospective_due and emergency_ticket.approved_at
    assert emergency_ticket.history.first().history_user == exec_approver


def test_it_refuses_emergency_approval_without_the_emergency_flag(
    author, release_manager, exec_approver
):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    with pytest.raises(services.TransitionRefused) as refused:
        services.ticket_transition(
            ticket, "emergency_approve", acting_user=exec_approver, reason="jailbreak"
        )
    assert refused.value.guard == "emergency_is_flagged_and_justified"


def test_it_refuses_emergency_approval_by_anyone_but_an_exec(emergency_ticket, release_manager):
    with pytest.raises(PermissionDenied, match="exec approver"):
        services.ticket_transition(
            emergency_ticket, "emergency_approve", acting_user=release_manager
        )


def test_it_records_a_retrospective_cab_review_of_an_emergency_change(
    emergency_ticket, exec_approver, cab_platform, cab_feature
):
    services.ticket_transition(
        emergency_ticket, "emergency_approve", acting_user=exec_approver, reason="jailbreak"
    )
    vote = services.vote_cast(
        emergency_ticket, acting_user=cab_platform, decision="approve", checklist=ALL_TICKED
    )
    emergency_ticket.refresh_from_db()
    assert vote.retrospective and emergency_ticket.retrospective_due  # one seat is not quorum
    services.vote_cast(
        emergency_ticket, acting_user=cab_feature, decision="approve", checklist=ALL_TICKED
    )
    emergency_ticket.refresh_from_db()
    assert not emergency_ticket.retrospective_due
    assert emergency_ticket.state == State.APPROVED


def test_it_refuses_a_vote_on_a_draft(author, release_manager, cab_platform):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    with pytest.raises(services.TransitionRefused) as refused:
        services.vote_cast(
            ticket, acting_user=cab_platform, decision="approve", checklist=ALL_TICKED
        )
    assert refused.value.guard == "state"
    assert not ticket.votes.exists()


def test_it_refuses_a_vote_by_someone_without_a_seat(author, release_manager):
    ticket = submitted(author, release_manager)
    with pytest.raises(PermissionDenied, match="Only a CAB seat"):
        services.vote_cast(
            ticket, acting_user=UserFactory(), decision="approve", checklist=ALL_TICKED
        )


def test_it_refuses_emergency_approval_without_the_execs_reason(emergency_ticket, exec_approver):
    with pytest.raises(services.TransitionRefused) as refused:
        services.ticket_transition(emergency_ticket, "emergency_approve", acting_user=exec_approver)
    assert refused.value.guard == "reason_is_given"
    emergency_ticket.refresh_from_db()
    assert emergency_ticket.state == State.DRAFT
