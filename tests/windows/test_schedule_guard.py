import pytest
from django.core.exceptions import PermissionDenied

from changemgmt.tickets import services as ticket_services
from changemgmt.tickets.services import TransitionRefused
from changemgmt.windows.services import ticket_schedule
from tests.factories import FeatureFactory
from tests.windows.factories import make_approved, make_emergency, make_freeze, ny

pytestmark = pytest.mark.django_db

RULE = "(Tue/Wed/Thu 10:00–16:00 America/New_York)"


def refused_reason(ticket, user, planned_start):
    with pytest.raises(TransitionRefused) as refused:
        ticket_schedule(ticket, acting_user=user, planned_start=planned_start)
    ticket.refresh_from_db()
    assert ticket.state == "approved" and ticket.planned_start is None  # nothing saved
    assert refused.value.guard == "planned_start_is_in_an_open_window"
    return refused.value.message


@pytest.mark.parametrize(
    "planned_start, said",
    [
        (ny(2027, 2, 8, 10), f"Monday 2027-02-08 10:00 EST is outside the standard window {RULE}"),
        (ny(2027, 2, 12, 11), f"Friday 2027-02-12 11:00 EST is outside the standard window {RULE}"),
        (ny(2027, 2, 13, 12), "Saturday 2027-02-13 12:00 EST is outside the standard window"),
        (ny(2027, 2, 14, 12), "Sunday 2027-02-14 12:00 EST is outside the standard window"),
        (ny(2027, 2, 10, 9, 30), "Wednesday 2027-02-10 09:30 EST is outside the standard window"),
        (ny(2027, 2, 10, 16, 0), "Wednesday 2027-02-10 16:00 EST is outside the standard window"),
        (ny(2027, 2, 10, 17, 0), "Wednesday 2027-02-10 17:00 EST is outside the standard window"),
    ],
)
def test_it_refuses_a_start_outside_the_standard_window(
    window_policy, at, author, release_manager, planned_start, said
):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 1, 9)):
        assert said in refused_reason(ticket, release_manager, planned_start)


def test_it_books_a_slot_inside_the_window_until_the_window_closes(
    window_policy, at, author, release_manager
):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 1, 9)):
        ticket, warnings = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10)
        )
    ticket.refresh_from_db()
    assert ticket.state == "scheduled" and warnings == []
    assert ticket.planned_start == ny(2027, 2, 10, 10)
    assert ticket.slot_ends_at == ny(2027, 2, 10, 16)
    row = ticket.history.first()
    assert row.history_user == release_manager
    assert row.history_change_reason == "schedule: booked Wed 2027-02-10 10:00 EST"


def test_it_refuses_a_slot_inside_a_freeze_covering_the_feature(
    window_policy, at, author, release_manager
):
    ticket = make_approved(author, release_manager)
    make_freeze(
        "Q4 close",
        ny(2026, 12, 28, 0),
        ny(2027, 1, 5, 9),
        features=[ticket.feature],
        reason="Quarter-end financial close.",
    )
    with at(ny(2026, 12, 1, 9)):
        said = refused_reason(ticket, release_manager, ny(2026, 12, 29, 11))
    assert "inside freeze 'Q4 close' until 2027-01-05 09:00 EST" in said
    assert "Quarter-end financial close." in said


def test_it_refuses_a_slot_that_runs_into_a_freeze_of_the_tickets_region(
    window_policy, at, author, release_manager
):
    ticket = make_approved(author, release_manager, regions=["CA", "US"])
    make_freeze("Peak shopping", ny(2027, 2, 10, 14), ny(2027, 2, 12), regions=["US"])
    with at(ny(2027, 2, 1, 9)):
        said = refused_reason(ticket, release_manager, ny(2027, 2, 11, 10))
        assert "inside freeze 'Peak shopping' until 2027-02-12 00:00 EST" in said
        # A morning slot that ends before the freeze begins is cut short, not refused.
        ticket, _ = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10)
        )
    assert ticket.slot_ends_at == ny(2027, 2, 10, 14)


def test_it_ignores_a_freeze_scoped_to_another_feature_or_region(
    window_policy, at, author, release_manager
):
    ticket = make_approved(author, release_manager, regions=["EU"])
    make_freeze("Peak shopping", ny(2027, 2, 9), ny(2027, 2, 12), features=[FeatureFactory()])
    make_freeze("US close", ny(2027, 2, 9), ny(2027, 2, 12), regions=["US", "CA"])
    with at(ny(2027, 2, 1, 9)):
        ticket, _ = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10)
        )
    assert ticket.state == "scheduled"


def test_it_refuses_a_start_in_the_past(window_policy, at, author, release_manager):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 10, 12)):
        said = refused_reason(ticket, release_manager, ny(2027, 2, 10, 10))
    assert "The planned start Wed 2027-02-10 10:00 EST is in the past." in said


def test_it_refuses_a_slot_overlapping_another_ticket_on_the_same_feature(
    window_policy, at, author, release_manager
):
    first = make_approved(author, release_manager)
    second = make_approved(author, release_manager, feature=first.feature)
    with at(ny(2027, 2, 1, 9)):
        ticket_schedule(first, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10))
        said = refused_reason(second, release_manager, ny(2027, 2, 10, 13))
        assert f"Conflicts with {first.change_id} (scheduled, same feature" in said
        # The next day is free.
        second, _ = ticket_schedule(
            second, acting_user=release_manager, planned_start=ny(2027, 2, 11, 10)
        )
    assert second.state == "scheduled"


def test_it_refuses_a_slot_overlapping_another_ticket_on_the_same_kill_switch(
    window_policy, at, author, release_manager
):
    first = make_approved(author, release_manager)
    second = make_approved(author, release_manager, kill_switch=first.kill_switch)
    assert second.feature_id != first.feature_id
    with at(ny(2027, 2, 1, 9)):
        ticket_schedule(first, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10))
        said = refused_reason(second, release_manager, ny(2027, 2, 10, 15))
    assert f"Conflicts with {first.change_id}" in said
    assert f"same kill switch {first.kill_switch}" in said


def test_it_warns_when_the_release_manager_is_on_another_bridge(
    window_policy, at, author, release_manager
):
    first = make_approved(author, release_manager)
    second = make_approved(author, release_manager)
    with at(ny(2027, 2, 1, 9)):
        ticket_schedule(first, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10))
        second, warnings = ticket_schedule(
            second, acting_user=release_manager, planned_start=ny(2027, 2, 10, 14)
        )
    assert second.state == "scheduled"
    assert warnings == [
        f"Bridge clash: release_manager is already on the bridge of {first.change_id} "
        "(booked Wed 2027-02-10 10:00 EST)."
    ]


def test_it_lets_only_a_release_manager_schedule(window_policy, at, author, release_manager):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 1, 9)), pytest.raises(PermissionDenied):
        ticket_schedule(ticket, acting_user=author, planned_start=ny(2027, 2, 10, 10))


def test_it_fills_the_slot_end_when_scheduled_through_the_plain_transition(
    window_policy, at, author, release_manager
):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 1, 9)):
        ticket_services.ticket_transition(
            ticket, "schedule", acting_user=release_manager, planned_start=ny(2027, 2, 11, 11)
        )
    ticket.refresh_from_db()
    assert ticket.state == "scheduled" and ticket.slot_ends_at == ny(2027, 2, 11, 16)


@pytest.mark.parametrize(
    "planned_start",
    [ny(2027, 2, 12, 17, 0), ny(2027, 2, 13, 3, 0)],
    ids=["friday-17:00", "saturday"],
)
def test_it_schedules_an_emergency_any_time_even_in_a_freeze(
    window_policy, at, author, release_manager, exec_approver, planned_start
):
    ticket = make_emergency(author, release_manager, exec_approver)
    make_freeze("Company event", ny(2027, 2, 12), ny(2027, 2, 14))
    with at(planned_start):
        ticket, _ = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=planned_start
        )
    assert ticket.state == "scheduled"
    assert ticket.slot_ends_at - ticket.planned_start == __import__("datetime").timedelta(hours=6)


def test_it_still_refuses_an_emergency_that_conflicts(
    window_policy, at, author, release_manager, exec_approver
):
    first = make_approved(author, release_manager)
    ticket = make_emergency(author, release_manager, exec_approver, feature=first.feature)
    with at(ny(2027, 2, 1, 9)):
        ticket_schedule(first, acting_user=release_manager, planned_start=ny(2027, 2, 10, 10))
        said = refused_reason(ticket, release_manager, ny(2027, 2, 10, 8))
    assert f"Conflicts with {first.change_id}" in said


def test_it_does_not_treat_a_flag_without_exec_approval_as_an_emergency(
    window_policy, at, author, release_manager
):
    ticket = make_approved(
        author, release_manager, emergency=True, emergency_justification="Urgent, we think."
    )
    with at(ny(2027, 2, 12, 17)):
        said = refused_reason(ticket, release_manager, ny(2027, 2, 12, 17))
    assert "Friday 2027-02-12 17:00 EST is outside the standard window" in said


def test_it_refuses_a_start_more_than_a_year_ahead(window_policy, at, author, release_manager):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 1, 9)):
        said = refused_reason(ticket, release_manager, ny(9999, 12, 31, 22))
        assert "more than a year ahead" in said
        with pytest.raises(TransitionRefused) as refused:
            ticket_services.ticket_transition(
                ticket, "schedule", acting_user=release_manager, planned_start=ny(2030, 2, 12, 10)
            )
    assert "more than a year ahead" in refused.value.message
