"""Separation of duties: the author never approves their own change, not even as a superuser."""

import pytest
from django.core.exceptions import PermissionDenied

from changemgmt.tickets import rules, services
from changemgmt.tickets.models import State
from tests.factories import FeatureFactory, TicketFactory, UserFactory
from tests.tickets.factories import ALL_TICKED, only_ticket_rules, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ticket_rules_only(select_guards):
    only_ticket_rules(select_guards)


@pytest.mark.parametrize("superuser", [False, True])
def test_it_refuses_the_author_a_vote_on_their_own_ticket(release_manager, superuser):
    author = UserFactory(
        roles=["author", "cab_platform"], is_superuser=superuser, is_staff=superuser
    )
    ticket = submitted(author, release_manager)
    with pytest.raises(PermissionDenied, match="The author cannot vote"):
        services.vote_cast(ticket, acting_user=author, decision="approve", checklist=ALL_TICKED)
    assert not ticket.votes.exists()
    assert not rules.may_vote(ticket, author)


@pytest.mark.parametrize("name", ["request_changes", "reject"])
def test_it_refuses_the_author_sending_back_or_rejecting_their_own_ticket(release_manager, name):
    author = UserFactory(roles=["author", "cab_feature"])
    ticket = submitted(author, release_manager)
    with pytest.raises(PermissionDenied):
        services.ticket_transition(ticket, name, acting_user=author, reason="mine")


@pytest.mark.parametrize("superuser", [False, True])
def test_it_refuses_an_exec_approving_their_own_emergency(release_manager, superuser):
    author = UserFactory(
        roles=["author", "exec_approver"], is_superuser=superuser, is_staff=superuser
    )
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        emergency=True,
        emergency_justification="Jailbreak went public.",
    )
    with pytest.raises(PermissionDenied, match="not the author"):
        services.ticket_transition(ticket, "emergency_approve", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT


@pytest.mark.parametrize("superuser", [False, True])
def test_it_refuses_high_tier_when_the_author_is_the_release_manager(superuser):
    author = UserFactory(
        roles=["author", "release_manager"], is_superuser=superuser, is_staff=superuser
    )
    ticket = TicketFactory(
        author=author, release_manager=author, feature=FeatureFactory(risk_tier="high")
    )
    with pytest.raises(services.TransitionRefused) as refused:
        services.ticket_transition(ticket, "submit", acting_user=author)
    assert refused.value.guard == "high_tier_has_independent_release_manager"


def test_it_gives_a_superuser_without_roles_no_role(author, release_manager):
    admin = UserFactory(is_superuser=True, is_staff=True)
    ticket = submitted(author, release_manager)
    with pytest.raises(PermissionDenied):
        services.vote_cast(ticket, acting_user=admin, decision="approve", checklist=ALL_TICKED)
    with pytest.raises(PermissionDenied):
        services.ticket_create(acting_user=admin, data={})
    assert services.available_transitions(ticket, admin) == []
