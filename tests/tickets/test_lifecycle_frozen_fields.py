"""After submission and approval a ticket's fields are frozen: an edit needs a new ticket."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from changemgmt.tickets import services
from tests.factories import TicketFactory
from tests.tickets.factories import approved, only_ticket_rules, submitted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ticket_rules_only(select_guards):
    only_ticket_rules(select_guards)


def test_it_edits_a_draft_and_records_who_and_why(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    services.ticket_update(
        ticket,
        acting_user=author,
        data={"title": "Handle travel insurance"},
        eval_deltas=[{"metric": "groundedness", "baseline": 0.8, "candidate": 0.83}],
        reason="sharper title",
    )
    ticket.refresh_from_db()
    assert ticket.title == "Handle travel insurance"
    assert [d.delta for d in ticket.eval_deltas.all()] == [pytest.approx(0.03)]
    row = ticket.history.first()
    assert (row.history_user, row.history_change_reason) == (author, "sharper title")
    assert ticket.history.earliest().title != row.title


@pytest.mark.parametrize("make", [submitted, approved])
def test_it_freezes_the_fields_once_submitted_or_approved(author, release_manager, make):
    ticket = make(author, release_manager)
    rows = ticket.history.count()
    with pytest.raises(services.TicketFrozen, match="fields are frozen"):
        services.ticket_update(ticket, acting_user=author, data={"title": "after the fact"})
    ticket.refresh_from_db()
    assert ticket.title != "after the fact" and ticket.history.count() == rows


def test_it_lets_only_the_author_edit(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    with pytest.raises(PermissionDenied):
        services.ticket_update(ticket, acting_user=release_manager, data={"title": "mine now"})


def test_it_never_lowers_the_tier_below_the_feature(author, release_manager):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    with pytest.raises(ValidationError) as error:
        services.ticket_update(ticket, acting_user=author, data={"risk_tier": "low"})
    assert "never lowered" in str(error.value.message_dict["risk_tier"])
    services.ticket_update(ticket, acting_user=author, data={"risk_tier": "high"})
    ticket.refresh_from_db()
    assert ticket.risk_tier == "high"


@pytest.mark.parametrize(
    "rows",
    [
        [{"metric": "a", "baseline": 1, "candidate": float("nan")}],
        [{"metric": "a", "baseline": float("inf"), "candidate": 1}],
        [
            {"metric": "a", "baseline": 1, "candidate": 1},
            {"metric": "a", "baseline": 1, "candidate": 2},
        ],
        [{"metric": "a", "baseline": "high", "candidate": 1}],
    ],
)
def test_it_refuses_bad_eval_rows_and_keeps_the_old_ones(author, release_manager, rows):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    with pytest.raises(ValidationError) as error:
        services.ticket_update(ticket, acting_user=author, data={}, eval_deltas=rows)
    assert "eval_deltas" in error.value.message_dict
    assert [d.metric for d in ticket.eval_deltas.all()] == ["groundedness"]


def test_it_refuses_a_release_manager_without_the_role(author, release_manager, cab_platform):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    with pytest.raises(ValidationError) as error:
        services.ticket_update(ticket, acting_user=author, data={"release_manager": cab_platform})
    assert error.value.message_dict["release_manager"] == ["cab_platform is not a release manager."]
