"""The ramp plan and breaches over the API: GET/PUT /api/v1/changes/{id}/plan/, POST
…/breaches/{id}/acknowledge/ with a note, and the plan, guards and breaches on the ticket's answer."""

import pytest
import time_machine

from changemgmt.audit.models import AuditRecord
from changemgmt.rollouts.models import Breach
from tests.factories import TicketFactory
from tests.rollouts.conftest import feed, ny, tick
from tests.tickets.api_payloads import client_for

PLAN = {
    "stages": [
        {
            "percent": 1,
            "bake_minutes": 30,
            "tenant_segments": ["internal"],
            "regions": ["AU", "CA"],
        },
        {
            "percent": 10,
            "bake_minutes": 240,
            "tenant_segments": ["internal", "design_partner"],
            "regions": ["AU", "CA", "EU"],
        },
        {"percent": 100, "bake_minutes": 0},
    ],
    "guards": [
        {
            "metric": "latency_p95_ms",
            "threshold": 1800,
            "severe_threshold": 4000,
            "observe_only": True,
        }
    ],
    "reason": "ring the design partners in first",
}


@pytest.fixture
def draft(author, support_assistant):
    return TicketFactory(
        author=author, feature=support_assistant, users_affected=4_000_000, max_traffic_percent=50
    )


def plan_of(ticket):
    return list(ticket.ramp_stages.order_by("index").values_list("percent", "bake_minutes"))


DEFAULT = [(1, 30), (10, 240), (50, 1440), (100, 0)]


def test_it_shows_the_plan_and_guards_on_the_ticket_and_the_plan_endpoint(draft, auditor):
    ticket = client_for(auditor).get(f"/api/v1/changes/{draft.change_id}/").json()
    assert [(s["percent"], s["bake_minutes"]) for s in ticket["ramp_plan"]] == DEFAULT
    assert {g["metric"] for g in ticket["guards"]} == {
        "eval_score_drift",
        "negative_feedback_rate",
        "error_rate",
        "latency_p95_ms",
    }
    assert ticket["breaches"] == []
    plan = client_for(auditor).get(f"/api/v1/changes/{draft.change_id}/plan/")
    assert plan.status_code == 200
    body = plan.json()
    assert body["frozen"] is False and body["change_id"] == draft.change_id
    assert body["stages"] == ticket["ramp_plan"] and body["guards"] == ticket["guards"]


def test_it_replaces_a_drafts_plan_with_the_forms_rules(draft, author):
    response = client_for(author).put(f"/api/v1/changes/{draft.change_id}/plan/", PLAN, "json")
    assert response.status_code == 200, response.json()
    stages = list(draft.ramp_stages.order_by("index"))
    assert [(s.percent, s.regions, s.tenant_segments) for s in stages] == [
        (1, ["AU", "CA"], ["internal"]),
        (10, ["AU", "CA", "EU"], ["internal", "design_partner"]),
        (100, [], []),
    ]
    guard = draft.guards.get(metric="latency_p95_ms")
    assert (guard.threshold, guard.severe_threshold, guard.observe_only) == (1800, 4000, True)
    row = stages[0].history.first()
    assert (row.history_user, row.history_change_reason) == (
        author,
        "ring the design partners in first",
    )
    assert [s["percent"] for s in response.json()["stages"]] == [1, 10, 100]


@pytest.mark.parametrize(
    "body, field, message",
    [
        (
            {"stages": [{"percent": 60, "bake_minutes": 30}, {"percent": 100}]},
            "stages",
            "Stage 1: 60% exceeds the ticket's max traffic of 50% (only the last stage may).",
        ),
        (
            {
                "stages": [
                    {"percent": 1, "bake_minutes": 30, "tenant_segments": ["design_partner"]},
                    {"percent": 100},
                ]
            },
            "stages",
            "skip the ring order",
        ),
        (
            {
                "stages": [{"percent": 1, "bake_minutes": 30}, {"percent": 100}],
                "guards": [{"metric": "error_rate", "threshold": 999, "observe_only": True}],
            },
            "guards",
            "The error rate guard must gate a Medium tier ramp",
        ),
    ],
)
def test_it_refuses_a_plan_the_rules_refuse_and_saves_nothing(draft, author, body, field, message):
    response = client_for(author).put(f"/api/v1/changes/{draft.change_id}/plan/", body, "json")
    assert response.status_code == 400
    assert any(message in m for m in response.json()[field]), response.json()
    assert plan_of(draft) == DEFAULT
    assert not draft.guards.get(metric="error_rate").observe_only


@pytest.mark.parametrize(
    "body, path",
    [
        ({"stages": [{"percent": "ten"}, {"percent": 100}]}, ("stages", "0", "percent")),
        ({"stages": [{"percent": True}, {"percent": 100}]}, ("stages", "0", "percent")),
        (
            {"stages": [{"percent": 0, "bake_minutes": 30}, {"percent": 100}]},
            ("stages", "0", "percent"),
        ),
        (
            {"stages": [{"percent": 1, "regions": "AU"}, {"percent": 100}]},
            ("stages", "0", "regions"),
        ),
        (
            {"stages": [{"percent": 1, "tenant_segments": ["martians"]}, {"percent": 100}]},
            ("stages", "0", "tenant_segments"),
        ),
        ({"stages": [{"bake_minutes": 30}, {"percent": 100}]}, ("stages", "0", "percent")),
        ({"stages": [{"percent": 1}] * 13}, ("stages",)),
        ({"stages": "1,10,100"}, ("stages",)),
        ({}, ("stages",)),
        (
            {
                "stages": [{"percent": 1, "bake_minutes": 30}, {"percent": 100}],
                "guards": [{"metric": "error_rate", "threshold": 0.02, "observe_only": "yes"}],
            },
            ("guards", "0", "observe_only"),
        ),
        (
            {
                "stages": [{"percent": 1, "bake_minutes": 30}, {"percent": 100}],
                "guards": [{"metric": "error_rate", "threshold": 0.02, "severe_threshold": 0.01}],
            },
            ("guards", "0", "severe_threshold"),
        ),
        (
            {
                "stages": [{"percent": 1, "bake_minutes": 30}, {"percent": 100}],
                "guards": [{"metric": "error_rate", "threshold": 0.02}] * 2,
            },
            ("guards",),
        ),
    ],
)
def test_it_answers_bad_input_with_field_errors(draft, author, body, path):
    response = client_for(author).put(f"/api/v1/changes/{draft.change_id}/plan/", body, "json")
    assert response.status_code == 400, response.content
    errors = response.json()
    for step in path:
        errors = errors[step]
    assert errors, response.json()
    assert plan_of(draft) == DEFAULT


def test_it_lets_only_the_author_edit_and_only_a_draft(draft, author, release_manager, auditor):
    url = f"/api/v1/changes/{draft.change_id}/plan/"
    for user in (release_manager, auditor):
        assert client_for(user).put(url, PLAN, "json").status_code == 403
    submitted = TicketFactory(
        author=author, feature=draft.feature, users_affected=4_000_000, state="submitted"
    )
    response = client_for(author).put(f"/api/v1/changes/{submitted.change_id}/plan/", PLAN, "json")
    assert response.status_code == 409
    assert response.json()["guard"] == "plan_frozen_after_submission"
    assert client_for(author).get(f"/api/v1/changes/{submitted.change_id}/plan/").json()["frozen"]
    assert plan_of(draft) == plan_of(submitted) == DEFAULT


def test_it_takes_the_tickets_own_answer_back_in_a_patch(draft, author):
    client = client_for(author)
    body = client.get(f"/api/v1/changes/{draft.change_id}/").json()
    body["title"] = "Retitled"
    response = client.patch(f"/api/v1/changes/{draft.change_id}/", body, "json")
    assert response.status_code == 200, response.json()
    assert plan_of(draft) == DEFAULT


# ----- breaches -----


@pytest.fixture
def breach(ramping_ticket):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10), n=1, error_rate=0.031)
    tick(ny(2027, 2, 10, 10, 11))
    ramping_ticket.refresh_from_db()
    assert ramping_ticket.state == "halted"
    return Breach.objects.get(ticket=ramping_ticket)


def test_it_acknowledges_a_breach_with_a_note_then_resumes(breach, release_manager):
    ticket = breach.ticket
    client = client_for(release_manager)
    with time_machine.travel(ny(2027, 2, 10, 10, 20), tick=False):
        listed = client.get(f"/api/v1/changes/{ticket.change_id}/").json()["breaches"]
        assert [(b["id"], b["metric"], b["acknowledged_at"]) for b in listed] == [
            (breach.pk, "error_rate", None)
        ]
        assert client.post(f"/api/v1/changes/{ticket.change_id}/resume/").status_code == 409
        response = client.post(
            f"/api/v1/changes/{ticket.change_id}/breaches/{breach.pk}/acknowledge/",
            {"note": "Retriever deploy at 10:05, reverted at 10:12."},
            "json",
        )
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["acknowledged_by"] == "release_manager"
        assert body["note"] == "Retriever deploy at 10:05, reverted at 10:12."
        resumed = client.post(f"/api/v1/changes/{ticket.change_id}/resume/", {}, "json")
        assert resumed.status_code == 200, resumed.json()
    assert resumed.json()["state"] == "ramping"
    record = AuditRecord.objects.filter(object_model="rollouts.breach").order_by("seq").last()
    assert record.reason == "breach acknowledged: Retriever deploy at 10:05, reverted at 10:12."
    assert record.actor_username == "release_manager"


@pytest.mark.parametrize("body", [{}, {"note": ""}, {"note": "   "}, {"note": "x" * 5001}])
def test_it_refuses_an_acknowledgement_without_a_note(breach, release_manager, body):
    url = f"/api/v1/changes/{breach.ticket.change_id}/breaches/{breach.pk}/acknowledge/"
    response = client_for(release_manager).post(url, body, "json")
    assert response.status_code == 400
    assert response.json()["note"]
    breach.refresh_from_db()
    assert breach.acknowledged_at is None


def test_it_lets_only_a_release_manager_acknowledge(breach, author, auditor, release_manager):
    url = f"/api/v1/changes/{breach.ticket.change_id}/breaches/{breach.pk}/acknowledge/"
    for user in (author, auditor):
        assert client_for(user).post(url, {"note": "mine"}, "json").status_code == 403
    other = f"/api/v1/changes/{breach.ticket.change_id}/breaches/{breach.pk + 99}/acknowledge/"
    assert client_for(release_manager).post(other, {"note": "?"}, "json").status_code == 404
    breach.refresh_from_db()
    assert breach.acknowledged_at is None


def test_it_documents_the_plan_and_acknowledge_operations(author):
    schema = client_for(author).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = schema.json()["paths"]
    plan = paths["/api/v1/changes/{change_id}/plan/"]
    assert set(plan) >= {"get", "put"}
    assert set(plan["put"]["responses"]) >= {"200", "400", "403", "404", "409"}
    acknowledge = paths["/api/v1/changes/{change_id}/breaches/{id}/acknowledge/"]["post"]
    assert set(acknowledge["responses"]) >= {"200", "400", "403", "404"}
    components = schema.json()["components"]["schemas"]
    assert components["AcknowledgeRequest"]["required"] == ["note"]
    assert {"ramp_plan", "guards", "breaches"} <= set(components["Change"]["properties"])
