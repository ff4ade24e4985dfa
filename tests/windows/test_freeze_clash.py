"""A freeze saved over a slot already booked (issue 11, item 7): the ticket page and the dashboard
show the clash, and the ticket's release manager is told when the freeze is saved, whatever path
saved it."""

from datetime import timedelta

import pytest

from changemgmt.audit.models import Notification
from changemgmt.windows import clashes, services
from changemgmt.windows.models import Freeze
from tests.factories import FeatureFactory, UserFactory
from tests.windows.factories import make_approved, make_freeze, ny

pytestmark = pytest.mark.django_db

MONDAY_9AM = ny(2027, 2, 8, 9)
WEDNESDAY_10AM = ny(2027, 2, 10, 10)

ADMIN_FREEZE = {
    "name": "Q1 close",
    "starts_at_0": "2027-02-10",
    "starts_at_1": "00:00",
    "ends_at_0": "2027-02-11",
    "ends_at_1": "00:00",
    "reason": "Quarter-end financial close",
    "regions": "",
}


@pytest.fixture
def booked(at, author, release_manager, only_window_guards):
    """A standard change booked for Wednesday 10:00 New York, before any freeze existed."""
    ticket = make_approved(author, release_manager)
    with at(MONDAY_9AM):
        ticket, _ = services.ticket_schedule(
            ticket, acting_user=release_manager, planned_start=WEDNESDAY_10AM
        )
    assert ticket.state == "scheduled"
    return ticket


def clash_notices():
    return Notification.objects.filter(event=clashes.CLASH_EVENT)


def test_it_notifies_the_release_manager_when_the_admin_saves_a_freeze_over_the_slot(
    at, client, root, booked, release_manager, django_capture_on_commit_callbacks
):
    with at(MONDAY_9AM), django_capture_on_commit_callbacks(execute=True):
        client.force_login(root)  # on the moved clock, so the session is fresh
        response = client.post("/admin/windows/freeze/add/", ADMIN_FREEZE)
    assert response.status_code == 302
    notice = clash_notices().get()
    assert notice.ticket == booked and notice.recipients == [release_manager.email]
    assert "Q1 close" in notice.subject and booked.change_id in notice.subject
    assert "cannot start at its booked Wed 2027-02-10 10:00 EST" in notice.body
    assert "release_manager: move the slot outside the freeze" in notice.body
    assert notice.payload["freeze"] == Freeze.objects.get().pk


def test_it_tells_nobody_twice_when_the_freeze_is_saved_again_unchanged(
    at, client, root, booked, django_capture_on_commit_callbacks
):
    with at(MONDAY_9AM), django_capture_on_commit_callbacks(execute=True):
        client.force_login(root)
        client.post("/admin/windows/freeze/add/", ADMIN_FREEZE)
        freeze = Freeze.objects.get()
        client.post(f"/admin/windows/freeze/{freeze.pk}/change/", ADMIN_FREEZE)
    assert clash_notices().count() == 1


def test_it_notifies_whatever_path_saves_the_freeze(at, booked, django_capture_on_commit_callbacks):
    with at(MONDAY_9AM), django_capture_on_commit_callbacks(execute=True):
        make_freeze("All-hands", ny(2027, 2, 10, 9), ny(2027, 2, 10, 18), reason="Company event")
    assert clash_notices().get().ticket == booked


def test_it_leaves_a_slot_outside_the_freezes_scope_alone(
    at, booked, django_capture_on_commit_callbacks
):
    other = FeatureFactory(slug="policy-search-v1")
    with at(MONDAY_9AM), django_capture_on_commit_callbacks(execute=True):
        make_freeze("Search freeze", ny(2027, 2, 10, 0), ny(2027, 2, 11, 0), features=[other])
        make_freeze("EU freeze", ny(2027, 2, 10, 0), ny(2027, 2, 11, 0), regions=["EU"])
    assert not clash_notices().exists()
    assert clashes.freeze_clashes(booked) == []


def test_it_tells_the_release_manager_group_when_the_ticket_names_no_one_reachable(
    at, booked, django_capture_on_commit_callbacks
):
    booked.release_manager.email = ""
    booked.release_manager.save()
    UserFactory(username="rm-on-call", roles=["release_manager"])
    with at(MONDAY_9AM), django_capture_on_commit_callbacks(execute=True):
        make_freeze("Q1 close", ny(2027, 2, 10, 0), ny(2027, 2, 11, 0))
    assert clash_notices().get().recipients == ["rm-on-call@example.com"]


def test_it_shows_the_clash_on_the_ticket_page_instead_of_a_next_allowed_start(
    at, client, booked, release_manager
):
    with at(MONDAY_9AM):
        client.force_login(release_manager)
        before = client.get(f"/tickets/{booked.change_id}/").content.decode()
        make_freeze("Q1 close", ny(2027, 2, 10, 0), ny(2027, 2, 11, 0))
        after = client.get(f"/tickets/{booked.change_id}/").content.decode()
    assert 'id="next-allowed-start">Wed 2027-02-10 10:00 EST' in before
    assert "Freeze clash" not in before
    assert 'id="next-allowed-start">Wed 2027-02-10 10:00 EST' not in after
    clash = after.split("freeze-clash")[1]
    assert "Freeze &#x27;Q1 close&#x27;" in clash and booked.change_id in clash
    assert "move the slot outside the freeze (next open slot: Tue 2027-02-09 10:00 EST)" in clash
    assert "a freeze covers the whole booked slot" in after


def test_it_shows_a_freeze_starting_inside_the_slot_and_keeps_the_start_before_it(
    at, client, booked, release_manager
):
    with at(MONDAY_9AM):
        client.force_login(release_manager)
        make_freeze("Afternoon event", ny(2027, 2, 10, 13), ny(2027, 2, 10, 18))
        page = client.get(f"/tickets/{booked.change_id}/").content.decode()
    assert "runs into it, and its promotions would wait out the freeze" in page
    assert 'id="next-allowed-start">Wed 2027-02-10 10:00 EST' in page


def test_it_lists_the_clash_on_the_dashboard(at, client, booked, auditor):
    with at(MONDAY_9AM):
        client.force_login(auditor)
        assert 'id="freeze-clashes"' not in client.get("/").content.decode()
        make_freeze("Q1 close", ny(2027, 2, 10, 0), ny(2027, 2, 11, 0))
        body = client.get("/").content.decode()
    clash = body.split('id="freeze-clashes"')[1].split("</ul>")[0]
    assert booked.change_id in clash and "Q1 close" in clash and "move the slot" in clash


def test_it_forgets_the_clash_once_the_slot_is_moved(at, booked, release_manager):
    with at(MONDAY_9AM):
        make_freeze("Q1 close", ny(2027, 2, 10, 0), ny(2027, 2, 11, 0))
        assert clashes.all_clashes() == [(booked, Freeze.objects.get())]
        services.ticket_schedule(
            booked,
            acting_user=release_manager,
            planned_start=WEDNESDAY_10AM + timedelta(days=1),
        )
        assert clashes.all_clashes() == []
