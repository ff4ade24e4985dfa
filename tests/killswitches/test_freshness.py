from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from changemgmt.killswitches.freshness import freshness, kill_switch_current
from changemgmt.tickets import services as tickets
from changemgmt.tickets.services import TransitionRefused
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

EXERCISED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "days_later, expected",
    [(0, "green"), (90, "green"), (91, "amber"), (181, "amber"), (182, "stale"), (400, "stale")],
)
def test_it_ages_from_green_to_amber_to_stale_by_quarters(feature_switch, days_later, expected):
    feature_switch.last_exercised_at = EXERCISED
    feature_switch.save()
    with time_machine.travel(EXERCISED + timedelta(days=days_later), tick=False):
        assert freshness("feature:policy-search-v1") == (expected, EXERCISED)


def test_it_counts_a_switch_never_exercised_or_missing_as_stale(feature_switch):
    assert freshness("feature:policy-search-v1") == ("stale", None)
    assert freshness("feature:nope") == ("stale", None)
    assert freshness("garbage") == ("stale", None)


def test_it_explains_the_start_refusal_with_the_date(feature_switch):
    feature_switch.last_exercised_at = EXERCISED
    feature_switch.save()
    ticket = TicketFactory(feature=feature_switch.feature)
    with time_machine.travel(EXERCISED + timedelta(days=200), tick=False):
        assert kill_switch_current(ticket) == (
            "kill switch feature:policy-search-v1 last exercised 2026-03-02; run a game day first"
        )
    with time_machine.travel(EXERCISED + timedelta(days=100), tick=False):
        assert kill_switch_current(ticket) is None


def test_it_refuses_start_of_a_ticket_behind_a_stale_switch(feature_switch, release_manager):
    ticket = TicketFactory(feature=feature_switch.feature, release_manager=release_manager)
    refusals = tickets.transition_refusals(ticket, "start", release_manager)
    # Whatever else (state, window) refuses, the stale switch is named among the reasons when the
    # state allows start; force the state to check the guard through the service.
    from changemgmt.tickets.models import ChangeTicket, State

    ChangeTicket.objects.filter(pk=ticket.pk).update(state=State.SCHEDULED)
    ticket.refresh_from_db()
    with pytest.raises(TransitionRefused) as caught:
        tickets.ticket_transition(ticket, "start", acting_user=release_manager)
    assert (
        "kill_switch_current",
        "kill switch feature:policy-search-v1 was never exercised; run a game day first",
    ) in caught.value.reasons
    assert refusals  # a draft cannot start either


def test_it_shows_freshness_on_the_ticket_panel(feature_switch, rf, auditor):
    from changemgmt.killswitches.panels import ticket_panel

    ticket = TicketFactory(feature=feature_switch.feature)
    request = rf.get("/")
    request.user = auditor
    panel = ticket_panel(request, ticket)
    assert panel["freshness"] == "stale" and panel["blocks_start"]
    assert panel["switch"] == feature_switch
