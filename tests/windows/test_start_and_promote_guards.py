import pytest

from changemgmt.tickets.services import TransitionRefused, ticket_transition, transition_refusals
from changemgmt.windows.services import ticket_schedule
from tests.windows.factories import make_approved, make_emergency, make_freeze, ny

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("window_policy", "only_window_guards")]


@pytest.fixture
def scheduled(at, author, release_manager):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 1, 9)):
        ticket, _ = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10)
        )
    return ticket


@pytest.fixture
def ramping(at, scheduled, release_manager):
    with at(ny(2027, 2, 10, 10, 5)):
        return ticket_transition(scheduled, "start", acting_user=release_manager)


def start_refusal(ticket, user):
    with pytest.raises(TransitionRefused) as refused:
        ticket_transition(ticket, "start", acting_user=user)
    ticket.refresh_from_db()
    assert ticket.state == "scheduled"
    assert refused.value.guard == "now_is_inside_the_booked_slot"
    return refused.value.message


def test_it_refuses_a_start_before_the_booked_slot(at, scheduled, release_manager):
    with at(ny(2027, 2, 10, 9, 59)):
        said = start_refusal(scheduled, release_manager)
    assert "Too early: the booked slot opens Wed 2027-02-10 10:00 EST." in said


def test_it_refuses_a_start_after_the_window_closed(at, scheduled, release_manager):
    with at(ny(2027, 2, 10, 16, 0)):
        said = start_refusal(scheduled, release_manager)
    assert "The booked slot closed Wed 2027-02-10 16:00 EST" in said


def test_it_refuses_a_start_when_a_freeze_was_declared_over_the_slot(
    at, scheduled, release_manager
):
    make_freeze("Incident freeze", ny(2027, 2, 10, 9), ny(2027, 2, 10, 18))
    with at(ny(2027, 2, 10, 11)):
        said = start_refusal(scheduled, release_manager)
    assert "inside freeze 'Incident freeze' until 2027-02-10 18:00 EST" in said


def test_it_starts_inside_the_booked_slot(at, scheduled, release_manager):
    with at(ny(2027, 2, 10, 15, 59)):
        ticket = ticket_transition(scheduled, "start", acting_user=release_manager)
    assert ticket.state == "ramping" and ticket.started_at == ny(2027, 2, 10, 15, 59)


@pytest.mark.parametrize(
    "instant", [ny(2027, 2, 12, 17, 0), ny(2027, 2, 13, 11, 0)], ids=["friday-17:00", "saturday"]
)
def test_it_starts_and_promotes_an_emergency_any_time(
    at, author, release_manager, exec_approver, instant
):
    ticket = make_emergency(author, release_manager, exec_approver)
    make_freeze("Company event", ny(2027, 2, 12), ny(2027, 2, 14))
    with at(instant):
        ticket, _ = ticket_schedule(ticket, acting_user=release_manager, planned_start=instant)
        ticket = ticket_transition(ticket, "start", acting_user=release_manager)
        assert ticket.state == "ramping"
        ticket = ticket_transition(ticket, "promote", acting_user=release_manager)
    assert ticket.state == "ramping"
    assert ticket.retrospective_due


def test_it_promotes_inside_the_window(at, ramping, release_manager):
    with at(ny(2027, 2, 11, 14, 30)):
        ticket = ticket_transition(ramping, "promote", acting_user=release_manager, final=True)
    assert ticket.state == "deployed"


def test_it_holds_a_promotion_outside_the_window(at, ramping, release_manager):
    with at(ny(2027, 2, 12, 11, 0)):
        with pytest.raises(TransitionRefused) as refused:
            ticket_transition(ramping, "promote", acting_user=release_manager)
    assert refused.value.guard == "promotion_is_inside_a_window_and_outside_freezes"
    assert "promotes at Tue 2027-02-16 10:00 EST" in refused.value.message


def test_it_locks_down_promotions_in_a_freeze_but_keeps_halt_and_roll_back_open(
    at, ramping, release_manager
):
    make_freeze(
        "Peak shopping", ny(2027, 2, 11, 0), ny(2027, 2, 16, 12), features=[ramping.feature]
    )
    with at(ny(2027, 2, 11, 11)):
        reasons = dict(transition_refusals(ramping, "promote", release_manager))
        assert reasons["promotion_is_inside_a_window_and_outside_freezes"].startswith(
            "Lockdown: promotions wait inside freeze 'Peak shopping' until 2027-02-16 12:00 EST"
        )
        ticket = ticket_transition(
            ramping, "halt", acting_user=release_manager, reason="error rate up"
        )
        assert ticket.state == "halted"
        ticket = ticket_transition(
            ticket, "roll_back", acting_user=release_manager, reason="roll back in the freeze"
        )
    assert ticket.state == "rolled_back"
