"""POST /api/v1/changes/{change_id}/votes/."""

import pytest

from tests.factories import TicketFactory, UserFactory
from tests.tickets.api_payloads import client_for
from tests.tickets.factories import ALL_TICKED, only_ticket_rules, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ticket_rules_only(select_guards):
    only_ticket_rules(select_guards)


def vote(user, ticket, body):
    return client_for(user).post(f"/api/v1/changes/{ticket.change_id}/votes/", body, format="json")


def test_it_records_the_vote_with_its_checklist(author, release_manager, cab_customer):
    ticket = submitted(author, release_manager)
    response = vote(cab_customer, ticket, {"decision": "approve", "checklist": ALL_TICKED})
    assert response.status_code == 201
    body = response.json()["vote"]
    assert body["seat"] == "cab_customer" and body["decision"] == "approve"
    assert body["checklist"] == ALL_TICKED and body["round"] == 1
    saved = ticket.votes.get()
    assert saved.history.get().history_user == cab_customer


def test_it_answers_400_naming_the_unticked_checklist(author, release_manager, cab_platform):
    ticket = submitted(author, release_manager)
    response = vote(
        cab_platform,
        ticket,
        {"decision": "approve", "checklist": {**ALL_TICKED, "blast_radius_sized": False}},
    )
    assert response.status_code == 400
    assert "blast radius" in response.json()["checklist"][0]
    assert not ticket.votes.exists()


def test_it_answers_400_when_a_refusal_has_no_comment(author, release_manager, cab_platform):
    ticket = submitted(author, release_manager)
    response = vote(cab_platform, ticket, {"decision": "reject"})
    assert response.status_code == 400 and "comment" in response.json()
    assert not ticket.votes.exists()


def test_it_answers_403_to_the_author_even_with_a_seat(release_manager):
    author = UserFactory(roles=["author", "cab_platform"], is_superuser=True)
    ticket = submitted(author, release_manager)
    response = vote(author, ticket, {"decision": "approve", "checklist": ALL_TICKED})
    assert response.status_code == 403
    assert response.json()["detail"] == "The author cannot vote on their own ticket."


def test_it_answers_403_to_someone_without_a_seat(author, release_manager):
    ticket = submitted(author, release_manager)
    assert vote(release_manager, ticket, {"decision": "approve"}).status_code == 403


def test_it_answers_409_to_a_vote_on_a_draft(author, release_manager, cab_platform):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    response = vote(cab_platform, ticket, {"decision": "approve", "checklist": ALL_TICKED})
    assert response.status_code == 409 and response.json()["guard"] == "state"
