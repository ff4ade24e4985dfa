"""Who may use the changes API: token or session; gateways get 403, auditors read only."""

import pytest
from rest_framework.test import APIClient

from changemgmt.tickets.models import ChangeTicket
from tests.factories import FeatureFactory, TicketFactory, UserFactory
from tests.tickets.api_payloads import client_for, worked_example
from tests.tickets.factories import ALL_TICKED, submitted

pytestmark = pytest.mark.django_db


def endpoints(ticket):
    base = f"/api/v1/changes/{ticket.change_id}/"
    return [
        ("get", "/api/v1/changes/", None),
        ("post", "/api/v1/changes/", worked_example()),
        ("get", base, None),
        ("patch", base, {"title": "x"}),
        ("post", base + "submit/", {}),
        ("post", base + "withdraw/", {}),
        ("post", base + "cancel/", {"reason": "x"}),
        ("post", base + "reject/", {"reason": "x"}),
        ("post", base + "votes/", {"decision": "approve", "checklist": ALL_TICKED}),
    ]


@pytest.fixture
def ticket(author, release_manager):
    FeatureFactory(slug="support-assistant")
    return submitted(author, release_manager)


def test_it_answers_403_to_a_gateway_on_every_changes_endpoint(gateway, ticket):
    client = client_for(gateway)
    for method, url, body in endpoints(ticket):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, (method, url)
    assert ChangeTicket.objects.count() == 1 and not ticket.votes.exists()


def test_it_lets_an_auditor_read_but_not_write(auditor, ticket):
    client = client_for(auditor)
    for method, url, body in endpoints(ticket):
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == (200 if method == "get" else 403), (method, url)
    ticket.refresh_from_db()
    assert ticket.state == "submitted" and ChangeTicket.objects.count() == 1


def test_it_answers_403_to_an_account_without_a_role(outsider, ticket):
    assert client_for(outsider).get("/api/v1/changes/").status_code == 403


def test_it_answers_401_without_credentials(ticket):
    client = APIClient()
    for method, url, body in endpoints(ticket):
        assert getattr(client, method)(url, body, format="json").status_code == 401


def test_it_refuses_filing_by_a_role_other_than_author(release_manager, cab_platform):
    FeatureFactory(slug="support-assistant")
    response = client_for(cab_platform).post("/api/v1/changes/", worked_example(), format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Only an author may file a change ticket."
    assert not ChangeTicket.objects.exists()


def test_it_hands_out_a_token_for_a_username_and_password(db):
    UserFactory(username="ci-bot", roles=["author"])
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/", {"username": "ci-bot", "password": "pw-for-tests-0"}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/changes/").status_code == 200
    wrong = APIClient().post(
        "/api/v1/auth/token/", {"username": "ci-bot", "password": "nope"}, format="json"
    )
    assert wrong.status_code == 400 and "token" not in wrong.json()


def test_it_accepts_a_session_with_csrf(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(author)
    assert client.get(f"/api/v1/changes/{ticket.change_id}/").status_code == 200
    # A session write without the CSRF token is refused (no cross-site submits).
    response = client.post(f"/api/v1/changes/{ticket.change_id}/submit/", {}, format="json")
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.state == "draft"


def test_it_answers_404_for_an_unknown_change(author):
    assert client_for(author).get("/api/v1/changes/CHG-1999-00001/").status_code == 404
    response = client_for(author).post("/api/v1/changes/CHG-1999-00001/submit/", {}, format="json")
    assert response.status_code == 404


def test_it_hands_out_tokens_with_login_throttling_on(db, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 2
    UserFactory(username="ci-bot", roles=["author"])
    client = APIClient()
    good = {"username": "ci-bot", "password": "pw-for-tests-0"}
    assert client.post("/api/v1/auth/token/", good, format="json").status_code == 200
    bad = {"username": "ci-bot", "password": "guess"}
    answers = [client.post("/api/v1/auth/token/", bad, format="json").status_code for _ in range(3)]
    assert all(400 <= status < 500 for status in answers), answers
    # Locked out after the failures: even the right password gets no token for a while.
    locked = client.post("/api/v1/auth/token/", good, format="json")
    assert locked.status_code in (400, 403, 429) and "token" not in locked.json()
