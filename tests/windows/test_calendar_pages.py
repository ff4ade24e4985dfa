import pytest
from icalendar import Calendar
from rest_framework.authtoken.models import Token

from changemgmt.windows import calendar
from changemgmt.windows.services import ticket_schedule
from tests.windows.factories import make_approved, make_freeze, ny

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("window_policy")]


@pytest.fixture
def booked(at, author, release_manager):
    make_freeze("Q4 close", ny(2026, 12, 28), ny(2027, 1, 5, 9), reason="Quarter-end close.")
    ticket = make_approved(author, release_manager)
    with at(ny(2026, 12, 1, 9)):
        ticket, _ = ticket_schedule(
            ticket, acting_user=release_manager, planned_start=ny(2026, 12, 16, 11)
        )
    return ticket


@pytest.fixture
def game_day():
    def source(start, end):
        return [
            {
                "title": "Game day: feature:support-assistant",
                "start": ny(2026, 12, 17, 13),
                "end": ny(2026, 12, 17, 14),
                "kind": "game_day",
                "url": "/kill-switches/game-days/",
            }
        ]

    calendar.register_event_source(source)
    yield source
    calendar._sources.remove(source)


def test_it_shows_windows_freezes_changes_and_registered_events_in_the_month(
    client, at, booked, game_day, auditor
):
    with at(ny(2026, 12, 1, 9)):
        client.force_login(auditor)  # sessions expire in traveled time
        response = client.get("/calendar/", {"date": "2026-12-01"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "December 2026" in body
    assert "window 10:00–16:00" in body
    assert "Freeze: Q4 close" in body
    assert f'href="{calendar.ticket_url(booked.change_id)}"' in body
    assert "Game day: feature:support-assistant" in body
    assert "?view=month&date=2026-11-01" in body and "?view=month&date=2027-01-01" in body


def test_it_shows_a_week_with_navigation(client, at, booked, auditor):
    with at(ny(2026, 12, 1, 9)):
        client.force_login(auditor)  # sessions expire in traveled time
        response = client.get("/calendar/", {"view": "week", "date": "2026-12-16"})
    body = response.content.decode()
    assert "Week of Mon 14 Dec 2026" in body
    assert booked.change_id in body
    assert "Q4 close" not in body.split("<h2")[0]  # not in this week's grid
    assert "?view=week&date=2026-12-07" in body and "?view=week&date=2026-12-21" in body


@pytest.mark.parametrize("query", [{"date": "2026-13-45"}, {"view": "year"}, {"date": "x"}])
def test_it_answers_bad_calendar_input_with_400(client, auditor, query):
    client.force_login(auditor)
    assert client.get("/calendar/", query).status_code == 400


def test_it_keeps_machine_accounts_off_the_calendar_page(client, gateway):
    client.force_login(gateway)
    assert client.get("/calendar/").status_code == 403


def feed_events(response):
    cal = Calendar.from_ical(response.content)
    return {str(e["uid"]): str(e["summary"]) for e in cal.walk("VEVENT")}


def test_it_serves_the_ics_feed_to_a_session_with_stable_uids(client, at, booked, auditor):
    with at(ny(2026, 12, 1, 9)):
        client.force_login(auditor)  # sessions expire in traveled time
        first = client.get("/calendar.ics")
        second = client.get("/calendar.ics")
    assert first.status_code == 200 and first["Content-Type"].startswith("text/calendar")
    events = feed_events(first)
    assert events == feed_events(second)
    assert f"change-{booked.change_id}@changemgmt" in events
    assert any(summary == "Freeze: Q4 close" for summary in events.values())
    assert "window-2026-12-16@changemgmt" in events


def test_it_serves_the_ics_feed_to_a_token_in_the_header_or_the_query(client, at, auditor):
    token = Token.objects.create(user=auditor)
    with at(ny(2026, 12, 1, 9)):
        client.force_login(auditor)  # sessions expire in traveled time
        by_header = client.get("/calendar.ics", HTTP_AUTHORIZATION=f"Token {token.key}")
        by_query = client.get("/calendar.ics", {"token": token.key})
    assert by_header.status_code == 200 and by_query.status_code == 200
    assert "window-2026-12-01@changemgmt" in feed_events(by_query)


def test_it_refuses_the_ics_feed_without_credentials(client, gateway):
    assert client.get("/calendar.ics").status_code == 401
    assert client.get("/calendar.ics", {"token": "not-a-token"}).status_code == 401
    assert client.get("/calendar.ics", HTTP_AUTHORIZATION="Token nope").status_code == 401
    machine = Token.objects.create(user=gateway)
    assert client.get("/calendar.ics", {"token": machine.key}).status_code == 403
