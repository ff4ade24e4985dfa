import pytest
from rest_framework.authtoken.models import Token

from tests.windows.factories import make_approved, make_freeze, ny

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("window_policy")]


def api(client, user, path, **query):
    token = Token.objects.get_or_create(user=user)[0]
    return client.get(path, query, HTTP_AUTHORIZATION=f"Token {token.key}")


def test_it_reports_the_policy_the_next_window_and_freezes(client, at, auditor):
    make_freeze("Q4 close", ny(2026, 12, 28), ny(2027, 1, 5, 9), reason="Quarter-end close.")
    with at(ny(2026, 12, 31, 12)):
        body = api(client, auditor, "/api/v1/windows/").json()
    assert body["rule"] == "Tue/Wed/Thu 10:00–16:00 America/New_York"
    assert body["window_open_now"] is False
    assert body["next_open_window"]["start"] == "2027-01-05T15:00:00Z"
    assert [f["name"] for f in body["freezes_in_force"]] == ["Q4 close"]


def test_it_lists_calendar_events_and_validates_the_range(client, at, auditor):
    with at(ny(2027, 2, 8, 9)):
        events = api(
            client, auditor, "/api/v1/calendar/events/", start="2027-02-08T00:00:00-05:00"
        ).json()
        bad = api(client, auditor, "/api/v1/calendar/events/", start="2027-02-08", end="2026-01-01")
        huge = api(client, auditor, "/api/v1/calendar/events/", start="9999-12-31T00:00:00Z")
    assert events[0]["uid"] == "window-2027-02-09@changemgmt"
    assert bad.status_code == 400 and "end" in bad.json()
    assert huge.status_code == 400 and "start" in huge.json()


def test_it_lists_a_tickets_open_slots(client, at, author, release_manager):
    ticket = make_approved(author, release_manager)
    with at(ny(2027, 2, 8, 9)):
        response = api(
            client, release_manager, f"/api/v1/changes/{ticket.change_id}/slots/", days=2
        )
        bad = api(client, release_manager, f"/api/v1/changes/{ticket.change_id}/slots/", days=0)
    assert response.json()["slots"] == [
        {"start": "2027-02-09T15:00:00Z", "end": "2027-02-09T21:00:00Z"}
    ]
    assert bad.status_code == 400
    missing = api(client, release_manager, "/api/v1/changes/CHG-2026-99999/slots/")
    assert missing.status_code == 404


def test_it_keeps_gateways_and_strangers_out(client, gateway):
    assert api(client, gateway, "/api/v1/windows/").status_code == 403
    assert client.get("/api/v1/windows/").status_code in (401, 403)


def test_it_schedules_through_the_change_api_across_the_march_switch(
    client, at, author, release_manager
):
    ticket = make_approved(author, release_manager)
    url = f"/api/v1/changes/{ticket.change_id}/schedule/"
    token = Token.objects.create(user=release_manager)
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    with at(ny(2027, 3, 8, 9)):
        # 14:30 UTC on Tuesday 2027-03-16 is 10:30 EDT (after the switch): inside the window.
        early = client.post(url, {"planned_start": "2027-03-16T13:30:00Z"}, **auth)
        booked = client.post(url, {"planned_start": "2027-03-16T14:30:00Z"}, **auth)
    assert early.status_code == 409
    assert early.json()["guard"] == "planned_start_is_in_an_open_window"
    assert "Tuesday 2027-03-16 09:30 EDT is outside the standard window" in early.json()["detail"]
    assert booked.status_code == 200, booked.content
    ticket.refresh_from_db()
    assert ticket.state == "scheduled" and ticket.slot_ends_at == ny(2027, 3, 16, 16)
