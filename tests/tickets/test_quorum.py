"""CAB quorum per tier and audience (the article's CAB: platform + feature, + AI Risk for High,
+ customer impact for customer-facing)."""

import pytest
from django.core.exceptions import PermissionDenied

from changemgmt import roles
from changemgmt.tickets import rules, services
from changemgmt.tickets.models import State
from tests.factories import FeatureFactory, UserFactory
from tests.tickets.factories import ALL_TICKED, approve, only_ticket_rules, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ticket_rules_only(select_guards):
    only_ticket_rules(select_guards)


QUORUMS = [
    ("medium", False, ["cab_platform", "cab_feature"]),
    ("medium", True, ["cab_platform", "cab_feature", "cab_customer"]),
    ("high", False, ["cab_platform", "cab_feature", "cab_risk"]),
    ("high", True, ["cab_platform", "cab_feature", "cab_risk", "cab_customer"]),
]


@pytest.mark.parametrize(("tier", "customer_facing", "seats"), QUORUMS)
def test_it_needs_the_seats_of_the_tier_and_audience(
    author, release_manager, cab, tier, customer_facing, seats
):
    feature = FeatureFactory(risk_tier=tier, customer_facing=customer_facing)
    ticket = submitted(author, release_manager, feature=feature)
    assert rules.required_seats(ticket) == seats
    for seat in seats[:-1]:
        approve(ticket, [cab[seat]])
        assert ticket.state == State.SUBMITTED
    # A seat the quorum does not need does not make it.
    spare = [seat for seat in roles.CAB_SEATS if seat not in seats]
    approve(ticket, [cab[seat] for seat in spare])
    assert ticket.state == State.SUBMITTED
    assert rules.quorum_missing_seats(ticket) == [seats[-1]]
    approve(ticket, [cab[seats[-1]]])
    assert ticket.state == State.APPROVED
    assert ticket.history.filter(history_change_reason__startswith="approve").count() == 1


def test_it_counts_one_person_once_even_with_two_seats(author, release_manager, cab_feature):
    both_seats = UserFactory(roles=["cab_platform", "cab_risk"])
    ticket = submitted(author, release_manager, feature=FeatureFactory(risk_tier="high"))
    approve(ticket, [both_seats])
    with pytest.raises(services.VoteRefused, match="one person fills one seat"):
        services.vote_cast(
            ticket,
            acting_user=both_seats,
            decision="approve",
            checklist=ALL_TICKED,
            seat="cab_risk",
        )
    approve(ticket, [cab_feature])
    assert ticket.state == State.SUBMITTED
    assert rules.quorum_missing_seats(ticket) == ["cab_risk"]


def test_it_refuses_an_approval_with_an_unticked_checklist(author, release_manager, cab_platform):
    ticket = submitted(author, release_manager)
    checklist = {**ALL_TICKED, "kill_switch_current": False}
    with pytest.raises(services.VoteRefused, match="kill switch is current") as refused:
        services.vote_cast(
            ticket, acting_user=cab_platform, decision="approve", checklist=checklist
        )
    assert refused.value.field == "checklist"
    assert not ticket.votes.exists()


def test_it_refuses_a_seat_the_voter_does_not_hold(author, release_manager, cab_platform):
    ticket = submitted(author, release_manager)
    with pytest.raises(PermissionDenied, match="cab_risk"):
        services.vote_cast(
            ticket,
            acting_user=cab_platform,
            decision="approve",
            checklist=ALL_TICKED,
            seat="cab_risk",
        )


def test_it_lets_a_seat_change_its_vote_within_the_round(
    author, release_manager, cab_platform, cab_feature
):
    ticket = submitted(author, release_manager)
    approve(ticket, [cab_platform, cab_platform])
    assert rules.quorum_missing_seats(ticket) == ["cab_feature"]
    approve(ticket, [cab_feature])
    assert ticket.state == State.APPROVED


def test_it_starts_a_new_round_after_changes_are_requested(
    author, release_manager, cab_platform, cab_feature
):
    ticket = submitted(author, release_manager)
    approve(ticket, [cab_platform])
    services.vote_cast(
        ticket, acting_user=cab_feature, decision="request_changes", comment="Size the radius."
    )
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT
    services.ticket_transition(ticket, "submit", acting_user=author)
    approve(ticket, [cab_feature])
    assert ticket.state == State.SUBMITTED  # cab_platform's approval was in round 1
    approve(ticket, [cab_platform])
    assert ticket.state == State.APPROVED
    assert sorted(ticket.votes.values_list("round", flat=True)) == [1, 1, 2, 2]
