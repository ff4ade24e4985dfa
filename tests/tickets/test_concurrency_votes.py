"""Votes and transitions racing on one ticket: the row lock serializes them, approval happens once."""

import threading

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django_fsm import ConcurrentTransition

from changemgmt.tickets import services
from changemgmt.tickets.models import ChangeTicket, State
from tests.factories import FeatureFactory
from tests.tickets.factories import ALL_TICKED, approve, only_ticket_rules, submitted


def race(*calls):
    """Run each call in its own thread (its own DB connection), released at the same moment."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test asserts
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_approves_exactly_once_when_the_last_two_seats_vote_at_the_same_moment(
    select_guards, author, release_manager, cab_platform, cab_feature, cab_customer
):
    only_ticket_rules(select_guards)
    feature = FeatureFactory(risk_tier="medium", customer_facing=True)
    ticket = submitted(author, release_manager, feature=feature)
    approve(ticket, [cab_customer])

    def vote_as(voter):
        return lambda: services.vote_cast(
            ticket, acting_user=voter, decision="approve", checklist=ALL_TICKED
        )

    outcomes = race(vote_as(cab_platform), vote_as(cab_feature))

    assert all(not isinstance(outcome, Exception) for outcome in outcomes), outcomes
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED
    assert ticket.history.filter(history_change_reason__startswith="approve").count() == 1
    assert ticket.history.filter(state=State.APPROVED).count() == 1
    assert sorted(ticket.votes.values_list("seat", flat=True)) == [
        "cab_customer",
        "cab_feature",
        "cab_platform",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_either_the_withdrawal_or_the_deciding_vote_win_never_both(
    select_guards, author, release_manager, cab_platform, cab_feature
):
    only_ticket_rules(select_guards)
    ticket = submitted(author, release_manager)
    approve(ticket, [cab_platform])

    outcomes = race(
        lambda: services.ticket_transition(ticket, "withdraw", acting_user=author),
        lambda: services.vote_cast(
            ticket, acting_user=cab_feature, decision="approve", checklist=ALL_TICKED
        ),
    )

    ticket.refresh_from_db()
    refused = [o for o in outcomes if isinstance(o, services.TransitionRefused | PermissionDenied)]
    assert len(refused) == 1, outcomes
    assert refused[0].guard == "state"
    if ticket.state == State.APPROVED:
        assert isinstance(outcomes[0], services.TransitionRefused)
        assert ticket.votes.count() == 2
    else:
        assert ticket.state == State.DRAFT and ticket.cab_round == 2
        assert ticket.votes.count() == 1  # the late vote found a draft and was not recorded


@pytest.mark.django_db
def test_it_refuses_to_save_a_transition_taken_on_a_stale_copy(
    select_guards, author, release_manager
):
    only_ticket_rules(select_guards)
    ticket = submitted(author, release_manager)
    stale = ChangeTicket.objects.get(pk=ticket.pk)
    services.ticket_transition(ticket, "withdraw", acting_user=author)
    stale.withdraw()
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        stale.save()
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT and ticket.cab_round == 2
