"""Bad input to POST /api/v1/changes/: 400 with field messages, nothing saved, never a 500."""

import json

import pytest

from changemgmt.tickets.models import ChangeIdCounter, ChangeTicket, EvalDelta
from tests.factories import FeatureFactory, TicketFactory
from tests.tickets.api_payloads import client_for, worked_example

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(release_manager, cab_platform):
    FeatureFactory(slug="support-assistant", risk_tier="medium", customer_facing=True)


def nothing_saved():
    assert not ChangeTicket.objects.exists()
    assert not ChangeTicket.history.exists()
    assert not EvalDelta.objects.exists()
    assert not ChangeIdCounter.objects.filter(last__gt=0).exists()


def row(**fields):
    return [{"metric": "groundedness", "baseline": 0.8, "candidate": 0.81, **fields}]


def nested(key, **fields):
    return {key: {**worked_example()[key], **fields}}


BAD_BODIES = [
    # wrong types
    ("title", {"title": {"text": "x"}}),
    ("blast_radius", {"blast_radius": "everyone"}),
    ("blast_radius", nested("blast_radius", users_affected="lots")),
    ("blast_radius", nested("blast_radius", users_affected=True)),
    ("blast_radius", nested("blast_radius", users_affected=-1)),
    ("blast_radius", nested("blast_radius", regions="AU,CA")),
    ("blast_radius", nested("blast_radius", max_traffic_percent=0)),
    ("blast_radius", nested("blast_radius", max_traffic_percent=101)),
    ("emergency", {"emergency": "yes"}),
    ("eval_deltas", {"eval_deltas": {"metric": "groundedness"}}),
    ("eval_deltas", {"eval_deltas": row(baseline="high")}),
    ("eval_deltas", {"eval_deltas": row(candidate=None)}),
    ("eval_deltas", {"eval_deltas": row(baseline=True)}),
    ("eval_deltas", {"eval_deltas": ["groundedness"]}),
    ("classification", {"classification": "vibes"}),
    ("risk_tier", {"risk_tier": "extreme"}),
    # unknown references
    ("feature", {"feature": "no-such-feature"}),
    ("feature", {"feature": 42}),
    ("release_manager", {"release_manager": "nobody"}),
    ("release_manager", {"release_manager": "cab_platform"}),  # exists, not a release manager
    ("release_window", nested("release_window", bridge=["release_manager", "ghost"])),
    # sizes
    ("title", {"title": "x" * 201}),
    ("summary", {"summary": "x" * 5001}),
    ("rollback_plan", {"rollback_plan": "x" * 5001}),
    ("emergency_justification", {"emergency_justification": "x" * 5001}),
    ("eval_deltas", {"eval_deltas": row(metric="m" * 81)}),
    # missing required fields
    ("title", {"title": None}),
    ("summary", {"summary": ""}),
    # non-finite numbers and duplicate metrics
    ("eval_deltas", {"eval_deltas": row(baseline="NaN")}),
    ("eval_deltas", {"eval_deltas": row(candidate="Infinity")}),
    ("eval_deltas", {"eval_deltas": row(candidate="-inf")}),
    ("eval_deltas", {"eval_deltas": row() + row(candidate=0.9)}),
    # URLs and emails
    ("artifacts", nested("artifacts", pr_url="not a url")),
    ("artifacts", nested("artifacts", model_card_url="javascript:alert(1)")),
    ("release_window", nested("release_window", bridge_url="meet")),
    ("release_window", nested("release_window", paging_list=["ai-oncall"])),
    ("release_window", nested("release_window", planned_start="next Wednesday")),
    # kill switches
    ("kill_switch", {"kill_switch": "region:eu"}),
    ("kill_switch", {"kill_switch": "feature:no-such-feature"}),
    ("kill_switch", {"kill_switch": "support-assistant"}),
    # the tier may be raised, never lowered
    ("risk_tier", {"risk_tier": "low"}),
    # typos are not silently dropped
    ("titel", {"titel": "x"}),
]


@pytest.mark.parametrize(("field", "change"), BAD_BODIES, ids=[f for f, _ in BAD_BODIES])
def test_it_answers_400_naming_the_field_and_saves_nothing(author, world, field, change):
    response = client_for(author).post("/api/v1/changes/", worked_example(**change), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    nothing_saved()


def test_it_answers_400_for_a_number_too_large_for_a_float(author, world):
    raw = json.dumps(worked_example(eval_deltas=row(candidate=123.0))).replace("123.0", "1e400")
    response = client_for(author).post("/api/v1/changes/", raw, content_type="application/json")
    assert response.status_code == 400
    assert "eval_deltas" in response.json()
    nothing_saved()


@pytest.mark.parametrize("missing", ["title", "summary", "feature", "classification"])
def test_it_names_each_missing_required_field(author, world, missing):
    body = worked_example()
    del body[missing]
    response = client_for(author).post("/api/v1/changes/", body, format="json")
    assert response.status_code == 400
    assert response.json()[missing] == ["This field is required."]
    nothing_saved()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "x",',
        b"[]",
        b'[{"title": "x"}]',
        b'"a string"',
        b"42",
        b"null",
        b'{"title": NaN}',
        b"\xff\xfe not utf-8",
        b"",
    ],
)
def test_it_answers_400_for_a_body_that_is_not_a_json_object(author, world, raw):
    response = client_for(author).post("/api/v1/changes/", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()
    nothing_saved()


def test_it_answers_400_for_a_form_encoded_body(author, world):
    response = client_for(author).post("/api/v1/changes/", {"title": "x"})
    assert response.status_code == 400
    nothing_saved()


def test_it_answers_415_for_an_unsupported_media_type(author, world):
    response = client_for(author).post(
        "/api/v1/changes/", json.dumps(worked_example()), content_type="text/yaml"
    )
    assert response.status_code == 415
    nothing_saved()


@pytest.mark.parametrize(
    "change",
    [
        {"title": "x" * 201},
        {"eval_deltas": row() + row()},
        {"eval_deltas": [{"baseline": 0.8, "candidate": 0.9}]},
        {"eval_deltas": [{}]},
        {"blast_radius": {"regions": 7}},
        {"release_window": {"paging_list": ["nope"]}},
        {"kill_switch": "cluster:eu-1"},
        [],
    ],
)
def test_it_answers_400_to_a_bad_patch_and_keeps_the_draft(author, release_manager, change):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    rows = ticket.history.count()
    response = client_for(author).patch(
        f"/api/v1/changes/{ticket.change_id}/", change, format="json"
    )
    assert response.status_code == 400, response.content
    ticket.refresh_from_db()
    assert ticket.history.count() == rows
    assert ticket.title == "Handle the new travel-insurance product line"
    assert [d.metric for d in ticket.eval_deltas.all()] == ["groundedness"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("submit/", b"[1, 2]"),
        ("cancel/", b'{"reason": {"why": 1}}'),
        ("schedule/", b'{"planned_start": "soon"}'),
        ("schedule/", b"{}"),
        ("close/", b'{"notes": "ok", "metrics_held": "maybe"}'),
        ("votes/", b'{"decision": "approve", "checklist": "all"}'),
        ("votes/", b'{"decision": "maybe"}'),
        ("votes/", b'{"decision": "approve", "checklist": {"vibes": true}}'),
        ("votes/", b'{"decision": "approve", "seat": "cab_everything"}'),
        ("votes/", b"{not json"),
    ],
)
def test_it_answers_400_to_bad_transition_and_vote_bodies(
    author, release_manager, cab_platform, path, body
):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    rows = ticket.history.count()
    user = cab_platform if path == "votes/" else author
    response = client_for(user).post(
        f"/api/v1/changes/{ticket.change_id}/{path}", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    ticket.refresh_from_db()
    assert ticket.history.count() == rows and not ticket.votes.exists()
