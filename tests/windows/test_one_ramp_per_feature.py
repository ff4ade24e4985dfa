"""Two tickets on one feature (or kill-switch path) never ramp at once (issue 11 item 1): slots
booked apart still meet when the first ramp runs past its slot, so `start` and `resume` refuse
while another ticket on the same feature or switch is ramping or halted, and `schedule` counts an
active ramp as occupying its feature until it ends."""

import pytest

from changemgmt.tickets.models import ChangeTicket
from changemgmt.tickets.services import TransitionRefused, ticket_transition
from changemgmt.windows.services import ticket_schedule
from tests.factories import FeatureFactory
from tests.windows.conftest import WINDOW_GUARDS
from tests.windows.factories import make_approved, ny

GUARD = "no_other_ramp_on_the_feature_or_kill_switch"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("window_policy")]


@pytest.fixture(autouse=True)
def window_and_conflict_guards(select_guards):
    select_guards(WINDOW_GUARDS | {GUARD}, on=("schedule", "start", "promote", "resume"))


@pytest.fixture
def feature(db):
    return FeatureFactory(slug="support-assistant", risk_tier="low")


def booked(at, author, release_manager, feature, start, **fields):
    ticket = make_approved(author, release_manager, feature=feature, **fields)
    with at(ny(2027, 2, 1, 9)):
        ticket, _ = ticket_schedule(ticket, acting_user=release_manager, planned_start=start)
    return ticket


def test_it_refuses_to_start_a_second_ramp_on_the_same_feature(
    at, author, release_manager, feature
):
    a = booked(at, author, release_manager, feature, ny(2027, 2, 10, 10))
    b = booked(at, author, release_manager, feature, ny(2027, 2, 11, 10))
    with at(ny(2027, 2, 10, 10, 5)):
        ticket_transition(a, "start", acting_user=release_manager)
    with at(ny(2027, 2, 11, 10, 5)), pytest.raises(TransitionRefused) as refused:
        ticket_transition(b, "start", acting_user=release_manager)
    assert refused.value.guard == GUARD
    assert a.change_id in refused.value.message and "ramping" in refused.value.message
    b.refresh_from_db()
    assert b.state == "scheduled"


def test_it_refuses_a_second_ramp_on_the_same_kill_switch_path(
    at, author, release_manager, feature
):
    a = booked(at, author, release_manager, feature, ny(2027, 2, 10, 10))
    other = FeatureFactory(risk_tier="low")
    path = f"feature:{feature.slug}"  # the other feature's change is switched off with this one
    b = booked(at, author, release_manager, other, ny(2027, 2, 11, 10), kill_switch=path)
    with at(ny(2027, 2, 10, 10, 5)):
        ticket_transition(a, "start", acting_user=release_manager)
    with at(ny(2027, 2, 11, 10, 5)), pytest.raises(TransitionRefused) as refused:
        ticket_transition(b, "start", acting_user=release_manager)
    assert refused.value.guard == GUARD and f"same kill switch {path}" in refused.value.message


def test_it_refuses_to_resume_while_another_ramp_holds_the_feature(
    at, author, release_manager, feature
):
    a = booked(at, author, release_manager, feature, ny(2027, 2, 10, 10))
    b = booked(at, author, release_manager, feature, ny(2027, 2, 11, 10))
    with at(ny(2027, 2, 10, 10, 5)):
        ticket_transition(a, "start", acting_user=release_manager)
        ticket_transition(a, "halt", acting_user=release_manager, reason="looks odd")
    # A halted ramp still holds its traffic: the second ticket may not start beside it.
    with at(ny(2027, 2, 11, 10, 5)), pytest.raises(TransitionRefused) as refused:
        ticket_transition(b, "start", acting_user=release_manager)
    assert a.change_id in refused.value.message and "halted" in refused.value.message
    # Were the second one ramping (started before this rule existed), the first may not resume.
    ChangeTicket.objects.filter(pk=b.pk).update(state="ramping")
    with at(ny(2027, 2, 11, 10, 6)), pytest.raises(TransitionRefused) as refused:
        ticket_transition(a, "resume", acting_user=release_manager)
    assert refused.value.guard == GUARD and b.change_id in refused.value.message


def test_it_starts_once_the_other_ramp_has_ended(at, author, release_manager, feature):
    a = booked(at, author, release_manager, feature, ny(2027, 2, 10, 10))
    b = booked(at, author, release_manager, feature, ny(2027, 2, 11, 10))
    with at(ny(2027, 2, 10, 10, 5)):
        ticket_transition(a, "start", acting_user=release_manager)
        ticket_transition(a, "roll_back", acting_user=release_manager, reason="bad")
    with at(ny(2027, 2, 11, 10, 5)):
        assert ticket_transition(b, "start", acting_user=release_manager).state == "ramping"


def test_it_refuses_to_schedule_over_a_running_ramp(at, author, release_manager, feature):
    a = booked(at, author, release_manager, feature, ny(2027, 2, 10, 10))
    with at(ny(2027, 2, 10, 10, 5)):
        ticket_transition(a, "start", acting_user=release_manager)
    b = make_approved(author, release_manager, feature=feature)
    with at(ny(2027, 2, 10, 11)), pytest.raises(TransitionRefused) as refused:
        ticket_schedule(b, acting_user=release_manager, planned_start=ny(2027, 2, 16, 10))
    assert refused.value.guard == "planned_start_is_in_an_open_window"
    assert a.change_id in refused.value.message


def test_it_answers_409_naming_the_guard_and_the_other_ticket(at, author, release_manager, feature):
    from rest_framework.test import APIClient

    a = booked(at, author, release_manager, feature, ny(2027, 2, 10, 10))
    b = booked(at, author, release_manager, feature, ny(2027, 2, 11, 10))
    with at(ny(2027, 2, 10, 10, 5)):
        ticket_transition(a, "start", acting_user=release_manager)
    client = APIClient()
    client.force_authenticate(release_manager)
    with at(ny(2027, 2, 11, 10, 5)):
        response = client.post(f"/api/v1/changes/{b.change_id}/start/", {}, format="json")
    assert response.status_code == 409
    assert GUARD in str(response.json()) and a.change_id in str(response.json())
