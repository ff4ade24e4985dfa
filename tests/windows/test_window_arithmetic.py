from datetime import UTC, datetime, time, timedelta

import pytest

from changemgmt.windows import policy
from changemgmt.windows.models import WindowPolicy
from tests.windows.factories import NY, make_approved, make_emergency, make_freeze, ny

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    "instant, inside",
    [
        (ny(2027, 2, 9, 10, 0), True),  # Tuesday, the window opens
        (ny(2027, 2, 11, 15, 59), True),  # Thursday, last minute
        (ny(2027, 2, 10, 9, 59), False),  # Wednesday, before 10
        (ny(2027, 2, 10, 16, 0), False),  # Wednesday, the window has closed
        (ny(2027, 2, 8, 12, 0), False),  # Monday
        (ny(2027, 2, 12, 12, 0), False),  # Friday
        (ny(2027, 2, 13, 12, 0), False),  # Saturday
    ],
)
def test_it_knows_the_standard_window(window_policy, instant, inside):
    assert (policy.window_containing(instant) is not None) is inside


def test_it_uses_the_default_policy_when_none_is_stored():
    window = policy.window_containing(ny(2027, 2, 10, 12))
    assert window.start == ny(2027, 2, 10, 10) and window.end == ny(2027, 2, 10, 16)


def test_it_opens_at_ten_local_across_the_march_switch(window_policy):
    # Thursday 2027-03-11 closes at 16:00 EST; clocks spring forward on Sunday 03-14.
    opens = policy.next_window_open(ny(2027, 3, 11, 16, 0))
    assert opens == utc(2027, 3, 16, 14, 0)  # 10:00 EDT, not 15:00 UTC
    assert opens.astimezone(NY).time() == time(10, 0)
    assert policy.window_containing(ny(2027, 3, 9, 10, 0)).start == utc(2027, 3, 9, 15, 0)


def test_it_opens_at_ten_local_across_the_november_switch(window_policy):
    # Thursday 2027-11-04 closes at 16:00 EDT; clocks fall back on Sunday 11-07.
    opens = policy.next_window_open(ny(2027, 11, 4, 16, 0))
    assert opens == utc(2027, 11, 9, 15, 0)  # 10:00 EST
    window = policy.window_containing(opens)
    assert window.end - window.start == timedelta(hours=6)


def test_it_follows_an_edited_policy_zone_and_days():
    WindowPolicy.objects.create(
        timezone="Australia/Sydney", weekdays=[0], start_time=time(9), end_time=time(11)
    )
    window = policy.next_window(utc(2027, 2, 10, 0, 0))
    assert window.start == datetime(2027, 2, 15, 9, 0, tzinfo=policy.current_policy().zone)
    assert window.end - window.start == timedelta(hours=2)


def test_it_promotes_a_bake_ending_thursday_1430_at_once(window_policy, author, release_manager):
    ticket = make_approved(author, release_manager)
    assert policy.next_promotion_at(ticket, ny(2027, 2, 11, 14, 30)) == ny(2027, 2, 11, 14, 30)


def test_it_holds_a_bake_ending_friday_1100_until_tuesday_1000(
    window_policy, author, release_manager
):
    ticket = make_approved(author, release_manager)
    assert policy.next_promotion_at(ticket, ny(2027, 2, 12, 11, 0)) == ny(2027, 2, 16, 10, 0)
    reason = policy.promotion_hold_reason(ticket, ny(2027, 2, 12, 11, 0))
    assert "Friday 2027-02-12 11:00 EST is outside the standard window" in reason
    assert "Tue 2027-02-16 10:00 EST" in reason


def test_it_holds_a_promotion_until_a_freeze_ends(window_policy, author, release_manager):
    ticket = make_approved(author, release_manager)
    make_freeze("Open enrollment", ny(2027, 2, 10, 11), ny(2027, 2, 10, 13, 30))
    assert policy.next_promotion_at(ticket, ny(2027, 2, 10, 12)) == ny(2027, 2, 10, 13, 30)
    make_freeze("Company event", ny(2027, 2, 11, 9), ny(2027, 2, 11, 18))
    # 16:00 Wednesday is after the window; Thursday is frozen all day; Tuesday next.
    assert policy.next_promotion_at(ticket, ny(2027, 2, 10, 15, 59)) == ny(2027, 2, 10, 15, 59)
    assert policy.next_promotion_at(ticket, ny(2027, 2, 10, 16, 0)) == ny(2027, 2, 16, 10, 0)
    assert "Lockdown" in policy.promotion_hold_reason(ticket, ny(2027, 2, 10, 12))


def test_it_waits_out_a_freeze_spanning_the_year_end(window_policy, author, release_manager):
    ticket = make_approved(author, release_manager)
    make_freeze("Q4 close", ny(2026, 12, 28, 0), ny(2027, 1, 5, 9))
    assert policy.next_promotion_at(ticket, ny(2026, 12, 29, 11)) == ny(2027, 1, 5, 10)
    assert policy.next_promotion_at(ticket, ny(2026, 12, 24, 16)) == ny(2027, 1, 5, 10)
    reason = policy.promotion_hold_reason(ticket, ny(2026, 12, 31, 12))
    assert "inside freeze 'Q4 close' until 2027-01-05 09:00 EST" in reason


def test_it_lets_an_emergency_promote_at_once(
    window_policy, author, release_manager, exec_approver
):
    ticket = make_emergency(author, release_manager, exec_approver)
    make_freeze("Q4 close", ny(2026, 12, 28, 0), ny(2027, 1, 5, 9))
    saturday = ny(2027, 1, 2, 3, 0)
    assert policy.next_promotion_at(ticket, saturday) == saturday
    assert policy.promotion_hold_reason(ticket, saturday) is None


def test_it_scopes_freezes_to_features_and_regions(window_policy, author, release_manager):
    ticket = make_approved(author, release_manager, regions=["US", "CA"])
    other = make_approved(author, release_manager, regions=["EU"])
    instant = ny(2027, 2, 10, 12)
    by_feature = make_freeze(
        "Peak shopping", ny(2027, 2, 9), ny(2027, 2, 12), features=[ticket.feature]
    )
    by_region = make_freeze("EU event", ny(2027, 2, 9), ny(2027, 2, 12), regions=["EU"])
    assert policy.freezes_covering(ticket, instant) == [by_feature]
    assert policy.freezes_covering(other, instant) == [by_region]
    everything = make_freeze("Company event", ny(2027, 2, 10, 11), ny(2027, 2, 10, 13))
    assert everything in policy.freezes_covering(other, instant)
    assert policy.freezes_covering(other, ny(2027, 2, 10, 13)) == [by_region]


def test_it_offers_open_slots_minus_freezes_and_conflicts(window_policy, author, release_manager):
    ticket = make_approved(author, release_manager)
    make_freeze("Company event", ny(2027, 2, 10, 12), ny(2027, 2, 10, 14))
    slots = policy.open_slots(ticket, ny(2027, 2, 8, 8, 0), 7)
    assert [(s.start, s.end) for s in slots] == [
        (ny(2027, 2, 9, 10), ny(2027, 2, 9, 16)),
        (ny(2027, 2, 10, 10), ny(2027, 2, 10, 12)),
        (ny(2027, 2, 10, 14), ny(2027, 2, 10, 16)),
        (ny(2027, 2, 11, 10), ny(2027, 2, 11, 16)),
    ]


def test_it_offers_the_rest_of_an_open_window_from_the_next_quarter_hour(
    window_policy, author, release_manager
):
    ticket = make_approved(author, release_manager)
    slots = policy.open_slots(ticket, ny(2027, 2, 9, 11, 7, 30), 1)
    assert slots[0].start == ny(2027, 2, 9, 11, 15)
