"""No object readable or changeable by id or URL by a user who may not: the id is not the key."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from changemgmt.tickets.models import ChangeTicket
from tests.factories import UserFactory

from .conftest import row_counts


def browser(user):
    client = Client()
    client.force_login(user)
    return client


def api(user):
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.fixture
def other_author(world):
    return UserFactory(username="other_author", roles=["author"])


def test_it_refuses_another_author_editing_a_draft_by_url(world, other_author):
    ticket = world["ticket"]
    before = row_counts()
    client = browser(other_author)
    assert client.get(f"/tickets/{ticket.change_id}/edit/").status_code == 403
    response = client.post(
        f"/tickets/{ticket.change_id}/edit/", {"title": "Hijacked", "summary": "Hijacked"}
    )
    assert response.status_code == 403
    assert ChangeTicket.objects.get(pk=ticket.pk).title == ticket.title
    assert row_counts() == before


def test_it_refuses_another_author_patching_a_draft_through_the_api(world, other_author):
    ticket = world["ticket"]
    before = row_counts()
    response = api(other_author).patch(
        f"/api/v1/changes/{ticket.change_id}/",
        {"title": "Hijacked"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert ChangeTicket.objects.get(pk=ticket.pk).title == ticket.title
    assert row_counts() == before


def test_it_refuses_another_author_submitting_or_cancelling_a_draft(world, other_author):
    ticket = world["ticket"]
    before = row_counts()
    web = browser(other_author)
    assert web.post(f"/tickets/{ticket.change_id}/transition/submit/").status_code == 403
    assert (
        web.post(f"/tickets/{ticket.change_id}/transition/cancel/", {"reason": "mine now"})
    ).status_code == 403
    machine = api(other_author)
    assert machine.post(f"/api/v1/changes/{ticket.change_id}/submit/").status_code == 403
    assert (
        machine.post(
            f"/api/v1/changes/{ticket.change_id}/cancel/",
            {"reason": "mine now"},
            content_type="application/json",
        ).status_code
        == 403
    )
    assert ChangeTicket.objects.get(pk=ticket.pk).state == "draft"
    assert row_counts() == before


@pytest.mark.parametrize(
    "persona, path",
    [
        # feature_owner sits in the support and search teams, not underwriting's.
        ("feature_owner", "feature/underwriting-decision-v2"),
        ("support_eng", "model/openai.gpt-4o-2024-11"),
        ("feature_owner", "model/openai.gpt-4o-2024-11"),
        ("feature_owner", "tenant/enterprise-tenant-12891"),
        ("platform_team", "tenant/enterprise-tenant-12891"),
        ("support_eng", "feature/support-assistant"),
        ("author", "feature/support-assistant"),
        ("release_manager", "model/openai.gpt-4o-2024-11"),
        ("auditor", "feature/support-assistant"),
        ("outsider", "feature/support-assistant"),
    ],
)
def test_it_refuses_a_flip_of_a_switch_the_user_does_not_own(world, persona, path):
    user = world["users"][persona]
    before = row_counts()
    web = browser(user).post(
        f"/kill-switches/{path}/flip/", {"reason": "not mine", "engaged": "on"}
    )
    assert web.status_code == 403
    machine = api(user).post(
        f"/api/v1/kill-switches/{path}/flip/",
        {"engaged": True, "reason": "not mine", "expires": None},
        content_type="application/json",
    )
    assert machine.status_code == 403
    assert row_counts() == before


@pytest.mark.parametrize(
    "persona, path, engaged",
    [
        ("feature_owner", "feature/support-assistant", True),
        ("platform_team", "feature/underwriting-decision-v2", True),
        ("platform_team", "model/openai.gpt-4o-2024-11", True),
        # The article's tenant switch is engaged: its owner lifts it.
        ("support_eng", "tenant/enterprise-tenant-12891", False),
    ],
)
def test_it_lets_the_owner_flip_its_own_switch(world, persona, path, engaged):
    """The control for the refusals above: the same request by the owner goes through."""
    response = api(world["users"][persona]).post(
        f"/api/v1/kill-switches/{path}/flip/",
        {"engaged": engaged, "reason": "owner's drill"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["changed"] is True


@pytest.mark.parametrize("persona", ["gateway", "outsider"])
def test_it_refuses_reading_a_ticket_by_id_to_an_account_without_a_human_role(world, persona):
    ticket = world["ticket"]
    user = world["users"][persona]
    assert browser(user).get(f"/tickets/{ticket.change_id}/").status_code == 403
    response = api(user).get(f"/api/v1/changes/{ticket.change_id}/")
    assert response.status_code == 403
    assert ticket.title.encode() not in response.content
    listing = api(user).get("/api/v1/changes/")
    assert listing.status_code == 403
    assert ticket.change_id.encode() not in listing.content


def test_it_refuses_a_cab_vote_from_someone_without_a_seat(world):
    ticket = world["ticket"]
    from changemgmt.tickets import services

    services.ticket_transition(ticket, "submit", acting_user=world["users"]["author"])
    before = row_counts()
    for persona in ("author", "release_manager", "auditor", "platform_team", "outsider"):
        response = api(world["users"][persona]).post(
            f"/api/v1/changes/{ticket.change_id}/votes/",
            {
                "decision": "approve",
                "comment": "",
                "checklist": {
                    "ticket_complete": True,
                    "rollback_plan_real": True,
                    "kill_switch_current": True,
                    "window_appropriate": True,
                    "blast_radius_sized": True,
                },
            },
            content_type="application/json",
        )
        assert response.status_code == 403, (persona, response.content)
    assert row_counts() == before
