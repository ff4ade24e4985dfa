"""GET/POST /api/v1/changes/ and GET/PATCH /api/v1/changes/{change_id}/."""

import pytest

from changemgmt.tickets.models import ChangeTicket, State
from tests.factories import FeatureFactory, TicketFactory
from tests.tickets.api_payloads import client_for, worked_example
from tests.tickets.factories import only_ticket_rules, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ticket_rules_only(select_guards):
    only_ticket_rules(select_guards)


@pytest.fixture
def support_assistant():
    return FeatureFactory(
        slug="support-assistant", risk_tier="medium", customer_facing=True, users_served=4_000_000
    )


def test_it_files_the_worked_example_and_answers_the_whole_ticket(
    author, release_manager, support_assistant
):
    response = client_for(author).post("/api/v1/changes/", worked_example(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    ticket = ChangeTicket.objects.get()
    assert body["change_id"] == ticket.change_id and body["change_id"].startswith("CHG-")
    assert body["state"] == "draft" and body["author"] == "author"
    assert body["created_at"]
    assert body["feature"] == "support-assistant" and body["release_manager"] == "release_manager"
    assert body["eval_deltas"] == [
        {
            "metric": "groundedness",
            "baseline": 0.812,
            "candidate": 0.822,
            "higher_is_better": True,
            "delta": pytest.approx(0.01),
        }
    ]
    assert body["blast_radius"] == {
        "users_affected": 4000000,
        "regions": ["AU", "CA", "EU", "US"],
        "max_traffic_percent": 50,
    }
    assert body["artifacts"]["risk_review_ticket"] == "AIRR-2291"
    assert body["release_window"]["planned_start"] == "2027-02-10T15:00:00Z"
    assert body["release_window"]["paging_list"] == ["ai-oncall@example.com"]
    assert body["allowed_transitions"] == ["submit", "cancel"]
    assert ticket.users_affected == 4_000_000 and ticket.bridge == ["release_manager"]
    row = ticket.history.get()
    assert (row.history_user, row.history_change_reason) == (author, "filed (API)")


def test_it_inherits_the_tier_from_the_feature_when_omitted(
    author, release_manager, support_assistant
):
    body = worked_example()
    del body["risk_tier"]
    response = client_for(author).post("/api/v1/changes/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["risk_tier"] == "medium"


def test_it_lists_and_filters_by_state_feature_and_tier(auditor, author, release_manager):
    low = TicketFactory(
        author=author, feature=FeatureFactory(slug="policy-search-v1", risk_tier="low")
    )
    medium = submitted(author, release_manager, feature=FeatureFactory(slug="support-assistant"))
    client = client_for(auditor)

    def ids(query):
        response = client.get("/api/v1/changes/" + query)
        assert response.status_code == 200
        return {row["change_id"] for row in response.json()["results"]}

    assert ids("") == {low.change_id, medium.change_id}
    assert ids("?state=submitted") == {medium.change_id}
    assert ids("?feature=policy-search-v1") == {low.change_id}
    assert ids("?tier=medium") == {medium.change_id}
    assert ids("?tier=high") == set()
    assert client.get("/api/v1/changes/?state=bogus").status_code == 400


def test_it_reads_one_ticket_by_change_id_with_what_the_reader_may_do(
    author, release_manager, cab_platform
):
    ticket = submitted(author, release_manager)
    response = client_for(cab_platform).get(f"/api/v1/changes/{ticket.change_id}/")
    assert response.status_code == 200
    assert response.json()["state"] == "submitted"
    assert response.json()["allowed_transitions"] == ["request_changes", "reject"]
    assert client_for(author).get(f"/api/v1/changes/{ticket.change_id}/").json()[
        "allowed_transitions"
    ] == ["withdraw", "cancel"]
    assert client_for(author).get("/api/v1/changes/CHG-2026-99999/").status_code == 404


def test_it_patches_a_draft(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    response = client_for(author).patch(
        f"/api/v1/changes/{ticket.change_id}/",
        {
            "title": "Sharper title",
            "blast_radius": {"max_traffic_percent": 10},
            "eval_deltas": [{"metric": "refusal_correctness", "baseline": 0.9, "candidate": 0.9}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    ticket.refresh_from_db()
    assert ticket.title == "Sharper title" and ticket.max_traffic_percent == 10
    assert ticket.regions == ["US"]  # untouched by a partial blast_radius
    assert [d.metric for d in ticket.eval_deltas.all()] == ["refusal_correctness"]
    assert ticket.history.first().history_change_reason == "edited (API)"


def test_it_accepts_the_answer_sent_back_as_a_patch(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    client = client_for(author)
    body = client.get(f"/api/v1/changes/{ticket.change_id}/").json()
    body["title"] = "Round trip"
    response = client.patch(f"/api/v1/changes/{ticket.change_id}/", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Round trip"


@pytest.mark.parametrize("state", ["submitted", "approved"])
def test_it_answers_409_naming_the_freeze_for_a_patch_after_submit(author, release_manager, state):
    feature = FeatureFactory(risk_tier="low" if state == "approved" else "medium")
    ticket = submitted(author, release_manager, feature=feature)
    assert ticket.state == state
    response = client_for(author).patch(
        f"/api/v1/changes/{ticket.change_id}/", {"title": "after the fact"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["guard"] == "fields_frozen_after_approval"
    ticket.refresh_from_db()
    assert ticket.title != "after the fact"


def test_it_refuses_a_patch_by_anyone_but_the_author(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    other = client_for(release_manager)
    response = other.patch(f"/api/v1/changes/{ticket.change_id}/", {"title": "x"}, format="json")
    assert response.status_code == 403
    assert (
        client_for(author)
        .put(f"/api/v1/changes/{ticket.change_id}/", {"title": "x"}, format="json")
        .status_code
        == 405
    )
    ticket.refresh_from_db()
    assert ticket.title != "x" and ticket.state == State.DRAFT
