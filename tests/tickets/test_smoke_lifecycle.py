import pytest

from changemgmt.tickets import services
from changemgmt.tickets.models import State
from tests.factories import FeatureFactory, TicketFactory

pytestmark = pytest.mark.django_db


def test_it_takes_a_medium_ticket_through_cab_quorum(author, release_manager, cab):
    ticket = TicketFactory(author=author, release_manager=release_manager)
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == State.SUBMITTED
    services.vote_cast(
        ticket,
        acting_user=cab["cab_platform"],
        decision="approve",
        checklist={
            k: True
            for k in [
                "ticket_complete",
                "rollback_plan_real",
                "kill_switch_current",
                "window_appropriate",
                "blast_radius_sized",
            ]
        },
    )
    ticket.refresh_from_db()
    assert ticket.state == State.SUBMITTED
    services.vote_cast(
        ticket,
        acting_user=cab["cab_feature"],
        decision="approve",
        checklist={
            k: True
            for k in [
                "ticket_complete",
                "rollback_plan_real",
                "kill_switch_current",
                "window_appropriate",
                "blast_radius_sized",
            ]
        },
    )
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED
    assert ticket.history.first().history_change_reason == "approve: CAB quorum approved"


def test_it_pre_approves_low_tier_on_submit(author):
    ticket = TicketFactory(author=author, feature=FeatureFactory(risk_tier="low"))
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED and ticket.standard_change


def test_it_refuses_submit_of_an_incomplete_ticket_with_the_reason(author):
    ticket = TicketFactory(author=author, rollback_plan="revert")
    with pytest.raises(services.TransitionRefused) as refused:
        services.ticket_transition(ticket, "submit", acting_user=author)
    assert "rollback plan" in str(refused.value)
    assert refused.value.guard == "ticket_is_complete"
