"""Input no field can take (issue 11, item 10): each of these answered 500 before the
request-level guard. Now a clear 400 (404 for a path naming nothing), and nothing changes."""

import json

import pytest
from rest_framework.test import APIClient

from changemgmt.tickets.models import ChangeTicket
from changemgmt.web.hostile_input import MAX_JSON_DEPTH, json_depth
from tests.security.conftest import row_counts

NUL = "a\u0000b"
SURROGATE = "a\ud800b"


def raw_json(value) -> bytes:
    """JSON with escapes kept as escapes (ensure_ascii), as a hostile client would send it: a
    lone surrogate cannot even be encoded as UTF-8."""
    return json.dumps(value, ensure_ascii=True).encode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture
def submitted_ticket(author, release_manager):
    from changemgmt.tickets import services
    from tests.factories import FeatureFactory, TicketFactory

    feature = FeatureFactory(slug="support-assistant", risk_tier="medium", customer_facing=False)
    ticket = TicketFactory(author=author, release_manager=release_manager, feature=feature)
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    return ticket


def token_client(user) -> APIClient:
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_it_measures_depth_outside_strings():
    assert json_depth(b'{"a": "[[[[", "b": [[1], {"c": []}]}') == 4
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(nested(MAX_JSON_DEPTH)) == MAX_JSON_DEPTH


def test_it_refuses_json_nested_a_thousand_deep_even_anonymously(db):
    response = APIClient().post(
        "/api/v1/auth/token/", nested(1000), content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]


def test_it_refuses_deep_json_on_every_write_endpoint_and_changes_nothing(world):
    from tests.security.urlwalk import all_routes

    client = token_client(world["users"]["admin"])
    before = row_counts()
    api_routes = [r for r in all_routes(world["samples"]) if r.path.startswith("/api/")]
    assert len(api_routes) > 15
    for route in api_routes:
        for method in ("post", "patch", "put"):
            response = getattr(client, method)(
                route.path, nested(1000), content_type="application/json"
            )
            assert response.status_code in (400, 404, 405), (route.path, method, response)
            if response.status_code == 400:
                assert "nested deeper" in response.json()["detail"], route.path
    assert row_counts() == before


def test_it_takes_honestly_nested_json(author, release_manager):
    from tests.factories import FeatureFactory
    from tests.tickets.api_payloads import worked_example

    FeatureFactory(slug="support-assistant")
    response = token_client(author).post(
        "/api/v1/changes/", raw_json(worked_example()), content_type="application/json"
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/changes/%00/",
        "/api/v1/changes/CHG-2026-%0000001/submit/",
        "/api/v1/kill-switches/feature/%00/flip/",
        "/api/v1/features/%00/",
        "/api/v1/models/%00/",
        "/api/v1/tenants/%00/",
        "/tickets/%00/",
        "/kill-switches/feature/%00/flip/",
    ],
)
def test_it_answers_404_for_a_null_character_in_the_path(world, path):
    client = token_client(world["users"]["admin"])
    client.force_login(world["users"]["admin"])
    before = row_counts()
    for method in ("get", "post"):
        response = getattr(client, method)(path)
        assert response.status_code == 404, (path, method, response.status_code)
        assert "null character" in response.content.decode()
    assert row_counts() == before


def test_it_refuses_a_null_character_in_a_filing(author, release_manager):
    from tests.factories import FeatureFactory
    from tests.tickets.api_payloads import worked_example

    FeatureFactory(slug="support-assistant")
    response = token_client(author).post(
        "/api/v1/changes/", raw_json(worked_example(feature=NUL)), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "body.feature contains a null character or a lone UTF-16 surrogate."
    )
    assert not ChangeTicket.objects.exists()


def test_it_refuses_a_lone_surrogate_in_a_vote(submitted_ticket, cab_platform):
    from changemgmt.tickets.models import CHECKLIST_ITEMS

    checklist = dict.fromkeys(CHECKLIST_ITEMS, True)
    body = {"decision": SURROGATE, "comment": "", "checklist": checklist}
    response = token_client(cab_platform).post(
        f"/api/v1/changes/{submitted_ticket.change_id}/votes/",
        raw_json(body),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "body.decision" in response.json()["detail"]
    assert not submitted_ticket.votes.exists()


def test_it_refuses_a_lone_surrogate_in_a_health_sample(submitted_ticket, db):
    from tests.factories import UserFactory

    observer = UserFactory(username="observer", roles=["observability"])
    body = [{"metric": "error_rate", "value": 0.1, "observed_at": "2027-02-10T10:12:00Z"}]
    body[0]["metric"] = SURROGATE
    response = token_client(observer).post(
        f"/api/v1/changes/{submitted_ticket.change_id}/metrics/",
        raw_json(body),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "body[0].metric" in response.json()["detail"]


def test_it_refuses_a_null_character_in_a_json_key(author):
    response = token_client(author).post(
        "/api/v1/changes/", raw_json({NUL: 1}), content_type="application/json"
    )
    assert response.status_code == 400
    assert "key" in response.json()["detail"]
