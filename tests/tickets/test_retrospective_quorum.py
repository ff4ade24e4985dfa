"""An emergency change's retrospective CAB review needs the same quorum, checklist and separation
of duties as a normal CAB review (issue 11, item 6): one seat does not close it."""

import pytest
from django.core.exceptions import PermissionDenied

from changemgmt.tickets import rules, services
from changemgmt.tickets.models import State
from tests.factories import FeatureFactory, TicketFactory, UserFactory
from tests.tickets.api_payloads import client_for
from tests.tickets.factories import ALL_TICKED, only_ticket_rules

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ticket_rules_only(select_guards):
    only_ticket_rules(select_guards)


def emergency(author, release_manager, exec_approver, *, tier="high", customer_facing=True):
    """An emergency ticket approved by an exec: High tier on a customer-facing feature needs all
    four seats (platform, feature, risk, customer)."""
    feature = FeatureFactory(risk_tier=tier, customer_facing=customer_facing)
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        feature=feature,
        emergency=True,
        emergency_justification="Jailbreak public on Friday 17:00; the prompt closes it.",
    )
    services.ticket_transition(
        ticket, "emergency_approve", acting_user=exec_approver, reason="jailbreak is public"
    )
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED and ticket.retrospective_due
    return ticket


def retro_vote(ticket, voter, **kwargs):
    kwargs.setdefault("checklist", ALL_TICKED)
    vote = services.vote_cast(ticket, acting_user=voter, decision="approve", **kwargs)
    ticket.refresh_from_db()
    return vote


def test_it_keeps_the_retrospective_due_after_one_cab_risk_approval(
    author, release_manager, exec_approver, cab_risk
):
    ticket = emergency(author, release_manager, exec_approver)
    vote = retro_vote(ticket, cab_risk)
    assert vote.retrospective
    assert ticket.retrospective_due
    assert rules.still_needed_seats(ticket) == ["cab_platform", "cab_feature", "cab_customer"]


def test_it_closes_the_retrospective_once_the_tiers_quorum_has_approved(
    author, release_manager, exec_approver, cab
):
    ticket = emergency(author, release_manager, exec_approver)
    for seat in ("cab_risk", "cab_platform", "cab_feature"):
        retro_vote(ticket, cab[seat])
        assert ticket.retrospective_due, seat
    retro_vote(ticket, cab["cab_customer"])
    assert not ticket.retrospective_due
    assert ticket.state == State.APPROVED
    assert ticket.history.first().history_change_reason == "retrospective CAB quorum approved"


def test_it_needs_only_the_seats_of_a_medium_internal_ticket(
    author, release_manager, exec_approver, cab_platform, cab_feature
):
    ticket = emergency(author, release_manager, exec_approver, tier="medium", customer_facing=False)
    retro_vote(ticket, cab_platform)
    assert ticket.retrospective_due
    retro_vote(ticket, cab_feature)
    assert not ticket.retrospective_due


def test_it_refuses_the_authors_retrospective_vote(release_manager, exec_approver, cab):
    seated_author = UserFactory(roles=["author", "cab_platform"])
    ticket = emergency(seated_author, release_manager, exec_approver)
    with pytest.raises(PermissionDenied, match="author cannot vote"):
        retro_vote(ticket, seated_author)
    assert not ticket.votes.exists() and ticket.retrospective_due


def test_it_refuses_a_retrospective_approval_without_the_checklist(
    author, release_manager, exec_approver, cab_platform
):
    ticket = emergency(author, release_manager, exec_approver)
    with pytest.raises(services.VoteRefused, match="Tick every checklist item"):
        retro_vote(ticket, cab_platform, checklist={**ALL_TICKED, "kill_switch_current": False})
    assert not ticket.votes.exists()


def test_it_lets_one_person_fill_one_seat_of_the_retrospective(
    author, release_manager, exec_approver
):
    ticket = emergency(author, release_manager, exec_approver, tier="medium", customer_facing=False)
    both = UserFactory(roles=["cab_platform", "cab_feature"])
    retro_vote(ticket, both, seat="cab_platform")
    with pytest.raises(services.VoteRefused, match="one person fills one seat"):
        retro_vote(ticket, both, seat="cab_feature")
    assert ticket.retrospective_due


def test_it_answers_the_api_vote_with_the_seats_still_needed(
    author, release_manager, exec_approver, cab_risk
):
    ticket = emergency(author, release_manager, exec_approver)
    response = client_for(cab_risk).post(
        f"/api/v1/changes/{ticket.change_id}/votes/",
        {"decision": "approve", "checklist": ALL_TICKED},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["vote"]["retrospective"] and body["retrospective_due"]
    assert body["still_needs"] == ["cab_platform", "cab_feature", "cab_customer"]


def test_it_answers_403_naming_the_rule_to_an_author_voting_through_the_api(
    release_manager, exec_approver
):
    seated_author = UserFactory(roles=["author", "cab_risk"])
    ticket = emergency(seated_author, release_manager, exec_approver)
    response = client_for(seated_author).post(
        f"/api/v1/changes/{ticket.change_id}/votes/",
        {"decision": "approve", "checklist": ALL_TICKED},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "The author cannot vote on their own ticket."


def test_it_refuses_an_api_emergency_approval_without_a_reason(
    author, release_manager, exec_approver
):
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        emergency=True,
        emergency_justification="Public jailbreak, Friday 17:00.",
    )
    response = client_for(exec_approver).post(
        f"/api/v1/changes/{ticket.change_id}/emergency-approve/", {}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["guard"] == "reason_is_given"
    assert "reason is required" in response.json()["detail"]
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT and not ticket.retrospective_due


def test_it_shows_the_seats_still_needed_on_the_pages(
    client, author, release_manager, exec_approver, cab_risk, cab_platform
):
    ticket = emergency(author, release_manager, exec_approver)
    client.force_login(cab_risk)
    response = client.post(
        f"/tickets/{ticket.change_id}/review/",
        {"decision": "approve", **dict.fromkeys(ALL_TICKED, "on")},
        follow=True,
    )
    page = response.content.decode()
    assert "The retrospective review still needs 3 of 4 seats: cab_platform, cab_feature, " in page
    detail = page.split('id="retrospective-needs"')[1]
    assert "Still needs <strong>3 of 4</strong> seats" in detail
    client.force_login(cab_platform)
    review = client.get(f"/tickets/{ticket.change_id}/review/").content.decode()
    assert (
        "Still needs <strong>3 of 4</strong> seats: cab_platform, cab_feature, cab_customer"
        in (review.split('id="retrospective-seats"')[1])
    )
    agenda = client.get("/tickets/cab/").content.decode().split('id="retrospective-due"')[1]
    assert "still needs 3 seats: cab_platform, cab_feature, cab_customer" in agenda
