"""POST /api/v1/changes/{change_id}/{transition}/ and the two-call CI pipeline."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from changemgmt.tickets.models import ChangeTicket, State
from tests.factories import FeatureFactory, TicketFactory
from tests.tickets.api_payloads import client_for, worked_example
from tests.tickets.factories import ALL_TICKED, approve, approved, only_ticket_rules, submitted

pytestmark = pytest.mark.django_db


def post(user, ticket, path, body=None):
    return client_for(user).post(
        f"/api/v1/changes/{ticket.change_id}/{path}/", body or {}, format="json"
    )


def test_it_files_and_submits_a_low_tier_ticket_for_a_ci_pipeline_in_two_calls(db):
    from tests.factories import UserFactory

    pipeline = UserFactory(username="ci-support", roles=["author"])
    FeatureFactory(slug="policy-search-v1", risk_tier="low", customer_facing=True)
    token = Token.objects.create(user=pipeline)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = worked_example(
        title="Refresh the policy-search prompt",
        feature="policy-search-v1",
        kill_switch="feature:policy-search-v1",
        release_manager=None,
    )
    del body["risk_tier"]
    body["release_window"] = {}
    body["artifacts"] = {
        "pr_url": "https://git.example.com/ai/search/pull/77",
        "prompt_version": "policy-search@7",
    }
    filed = client.post("/api/v1/changes/", body, format="json")
    assert filed.status_code == 201, filed.json()
    assert filed.json()["risk_tier"] == "low" and filed.json()["state"] == "draft"
    change_id = filed.json()["change_id"]

    submitted_ = client.post(f"/api/v1/changes/{change_id}/submit/", {}, format="json")
    assert submitted_.status_code == 200, submitted_.json()
    assert submitted_.json()["state"] == "approved"
    assert submitted_.json()["standard_change"] is True
    ticket = ChangeTicket.objects.get(change_id=change_id)
    assert ticket.history.first().history_user == pipeline


@pytest.fixture
def core(select_guards):
    only_ticket_rules(select_guards)


def test_it_walks_a_medium_ticket_through_the_whole_lifecycle(
    core, author, release_manager, cab_platform, cab_feature
):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    assert post(author, ticket, "submit").json()["state"] == "submitted"
    approve(ticket, [cab_platform, cab_feature])
    answer = post(release_manager, ticket, "schedule", {"planned_start": "2027-02-10T10:00-05:00"})
    assert answer.status_code == 200 and answer.json()["state"] == "scheduled"
    assert answer.json()["release_window"]["planned_start"] == "2027-02-10T15:00:00Z"
    assert post(release_manager, ticket, "start").json()["state"] == "ramping"
    assert post(release_manager, ticket, "promote").json()["state"] == "ramping"
    halted = post(release_manager, ticket, "halt", {"reason": "negative feedback up"})
    assert halted.json()["state"] == "halted"
    assert halted.json()["last_reason"] == "negative feedback up"
    assert post(release_manager, ticket, "resume").json()["state"] == "ramping"
    assert post(release_manager, ticket, "roll-back", {"reason": "drift"}).json()["state"] == (
        "rolled_back"
    )
    closed = post(
        release_manager,
        ticket,
        "close",
        {"notes": "Post-incident review: fallback held.", "metrics_held": False},
    )
    assert closed.status_code == 200
    assert closed.json()["state"] == "closed"
    assert closed.json()["review_notes"] == "Post-incident review: fallback held."
    assert closed.json()["metrics_held"] is False
    assert closed.json()["allowed_transitions"] == []


def test_it_answers_409_with_the_guard_when_a_guard_refuses(core, author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager, rollback_plan="revert")
    response = post(author, ticket, "submit")
    assert response.status_code == 409
    body = response.json()
    assert body["transition"] == "submit" and body["guard"] == "ticket_is_complete"
    assert "rollback plan" in body["detail"]
    assert body["reasons"][0]["guard"] == "ticket_is_complete"
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT


def test_it_answers_409_when_the_state_refuses(core, author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    response = post(release_manager, ticket, "start")
    assert response.status_code == 409
    assert response.json()["guard"] == "state"


@pytest.mark.parametrize(
    ("path", "guard"),
    [("halt", "reason_is_given"), ("roll-back", "reason_is_given"), ("close", None)],
)
def test_it_answers_409_when_the_reason_or_notes_are_missing(
    core, author, release_manager, path, guard
):
    ticket = approved(author, release_manager)
    for step, body in [("schedule", {"planned_start": "2027-02-10T15:00Z"}), ("start", {})]:
        assert post(release_manager, ticket, step, body).status_code == 200
    if path == "close":
        post(release_manager, ticket, "roll-back", {"reason": "drift"})
        guard = "review_notes_are_written"
    response = post(release_manager, ticket, path, {"reason": "   "})
    assert response.status_code == 409 and response.json()["guard"] == guard


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("submit", "release_manager"),
        ("withdraw", "cab_platform"),
        ("emergency-approve", "author"),
        ("cancel", "cab_platform"),
    ],
)
def test_it_answers_403_when_the_role_may_not(
    core, author, release_manager, cab_platform, path, who
):
    users = {"author": author, "release_manager": release_manager, "cab_platform": cab_platform}
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        emergency=True,
        emergency_justification="jailbreak",
    )
    if path == "withdraw":
        post(author, ticket, "submit")
    response = post(users[who], ticket, path, {"reason": "because"})
    assert response.status_code == 403
    assert response.json()["detail"]


@pytest.mark.parametrize("path", ["request-changes", "reject"])
def test_it_records_a_cab_refusal_as_a_vote(core, author, release_manager, cab_risk, path):
    ticket = submitted(author, release_manager)
    response = post(cab_risk, ticket, path, {"reason": "Rollback plan is not specific."})
    assert response.status_code == 200
    assert response.json()["state"] == ("draft" if path == "request-changes" else "rejected")
    vote = ticket.votes.get()
    assert (vote.voter, vote.decision, vote.comment) == (
        cab_risk,
        path.replace("-", "_"),
        "Rollback plan is not specific.",
    )


def test_it_refuses_a_cab_refusal_without_a_reason(core, author, release_manager, cab_risk):
    ticket = submitted(author, release_manager)
    response = post(cab_risk, ticket, "reject", {})
    assert response.status_code == 409 and response.json()["guard"] == "reason_is_given"
    assert not ticket.votes.exists()


def test_it_emergency_approves_through_the_api(core, author, release_manager, exec_approver):
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        emergency=True,
        emergency_justification="Public jailbreak, Friday 17:00.",
    )
    response = post(exec_approver, ticket, "emergency-approve", {"reason": "jailbreak"})
    assert response.status_code == 200
    assert response.json()["state"] == "approved" and response.json()["retrospective_due"]


def test_it_cancels_with_a_reason(core, author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    assert post(author, ticket, "cancel").status_code == 409
    response = post(author, ticket, "cancel", {"reason": "superseded by CHG-2026-00009"})
    assert response.status_code == 200 and response.json()["state"] == "cancelled"


def test_it_refuses_approve_to_every_caller_and_has_no_route_for_unknown_ones(
    author, release_manager, cab_platform
):
    ticket = submitted(author, release_manager)
    for caller in (author, cab_platform, release_manager):
        response = post(caller, ticket, "approve")
        assert response.status_code == 403
        assert "given by the system when the CAB quorum has approved" in response.json()["detail"]
    ticket.refresh_from_db()
    assert ticket.state == "submitted"
    assert post(author, ticket, "deploy-now").status_code == 404


def test_it_approves_through_votes_posted_to_the_api(
    core, author, release_manager, cab_platform, cab_feature
):
    ticket = submitted(author, release_manager)
    first = client_for(cab_platform).post(
        f"/api/v1/changes/{ticket.change_id}/votes/",
        {"decision": "approve", "comment": "8 minutes at standup", "checklist": ALL_TICKED},
        format="json",
    )
    assert first.status_code == 201
    assert first.json()["state"] == "submitted"
    assert first.json()["vote"]["seat"] == "cab_platform"
    assert first.json()["vote"]["voter"] == "cab_platform"
    second = client_for(cab_feature).post(
        f"/api/v1/changes/{ticket.change_id}/votes/",
        {"decision": "approve", "checklist": ALL_TICKED},
        format="json",
    )
    assert second.status_code == 201
    assert second.json() | {"vote": None} == {
        "vote": None,
        "change_id": ticket.change_id,
        "state": "approved",
        "retrospective_due": False,
        "still_needs": [],
    }


def test_it_deploys_on_a_promotion_the_ramp_says_is_the_last(
    core, monkeypatch, author, release_manager
):
    from changemgmt.tickets import transitions

    ticket = approved(author, release_manager)
    for step, body in [("schedule", {"planned_start": "2027-02-10T15:00Z"}), ("start", {})]:
        assert post(release_manager, ticket, step, body).status_code == 200
    monkeypatch.setattr(transitions, "_final_stage_checks", [])
    assert post(release_manager, ticket, "promote").json()["state"] == "ramping"
    transitions.register_final_stage_check(lambda t: t.pk == ticket.pk)
    assert post(release_manager, ticket, "promote").json()["state"] == "deployed"


def test_it_populates_a_ci_pipeline_ticket_from_its_feature(author, release_manager):
    FeatureFactory(
        slug="policy-search-v1", risk_tier="low", users_served=250_000, regions=["US", "CA"]
    )
    client = client_for(author)
    filed = client.post(
        "/api/v1/changes/",
        {
            "title": "Refresh the policy-search prompt",
            "summary": "Synonyms for the new product line",
            "feature": "policy-search-v1",
            "classification": "prompt",
            "eval_deltas": [{"metric": "ndcg@10", "baseline": 0.71, "candidate": 0.72}],
            "rollback_plan": "1. Flip feature:policy-search-v1 to keyword-search-v3. "
            "2. Re-pin policy-search@6.",
            "artifacts": {
                "pr_url": "https://git.example.com/ai/search/pull/78",
                "prompt_version": "policy-search@7",
            },
        },
        format="json",
    )
    assert filed.status_code == 201, filed.json()
    body = filed.json()
    assert body["risk_tier"] == "low" and body["kill_switch"] == "feature:policy-search-v1"
    assert body["blast_radius"]["users_affected"] == 250_000
    assert body["blast_radius"]["regions"] == ["US", "CA"]
    submitted_ = client.post(f"/api/v1/changes/{body['change_id']}/submit/", {}, format="json")
    assert submitted_.status_code == 200, submitted_.json()
    assert submitted_.json()["state"] == "approved"
