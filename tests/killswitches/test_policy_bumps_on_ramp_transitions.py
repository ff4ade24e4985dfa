import pytest

from changemgmt.killswitches import policy
from changemgmt.tickets import services as tickets
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_it_bumps_the_policy_when_a_ticket_is_cancelled(author):
    ticket = TicketFactory(author=author)
    tickets.ticket_transition(ticket, "cancel", acting_user=author, reason="superseded")
    assert policy.current_version() == 1


def test_it_leaves_the_policy_alone_on_transitions_that_move_no_ramp(author):
    ticket = TicketFactory(author=author)
    tickets.ticket_transition(ticket, "submit", acting_user=author)
    assert policy.current_version() == 0
