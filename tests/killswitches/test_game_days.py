from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from changemgmt.killswitches import gamedays, policy, tasks
from changemgmt.killswitches.models import Exercise, GameDay
from changemgmt.killswitches.services import gateway_ack

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 11, 10, 0, tzinfo=UTC)


def test_it_plans_one_game_day_per_quarter_and_reminds_once(
    switches, platform_team, support_eng, django_capture_on_commit_callbacks
):
    with time_machine.travel("2026-10-01 06:00Z", tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.plan_game_days() == {"created": 2, "reminded": 0}
            assert tasks.plan_game_days() == {"created": 0, "reminded": 0}
    day = GameDay.objects.get(quarter="2026-Q4")
    assert day.scheduled_for == date(2026, 11, 11)  # second Wednesday of the middle month
    assert GameDay.objects.filter(quarter="2027-Q1").exists()
    with time_machine.travel("2026-11-05 06:00Z", tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.plan_game_days()["reminded"] == 1
            assert tasks.plan_game_days()["reminded"] == 0
    assert len(mail.outbox) == 1
    assert "feature:policy-search-v1" in mail.outbox[0].body
    assert {platform_team.email, support_eng.email} <= set(mail.outbox[0].to)


def test_it_reschedules_inside_the_quarter_only(platform_team, auditor):
    day = GameDay.objects.create(quarter="2026-Q4", scheduled_for=date(2026, 11, 11))
    gamedays.game_day_reschedule(day, scheduled_for=date(2026, 12, 2), acting_user=platform_team)
    day.refresh_from_db()
    assert day.scheduled_for == date(2026, 12, 2)
    with pytest.raises(ValidationError):
        gamedays.game_day_reschedule(day, scheduled_for=date(2027, 1, 5), acting_user=platform_team)
    with pytest.raises(PermissionDenied):
        gamedays.game_day_reschedule(day, scheduled_for=date(2026, 12, 3), acting_user=auditor)


def test_it_runs_an_exercise_measuring_time_to_kill_from_gateway_acks(
    feature_switch, platform_team, gateway, gateway_names
):
    day = GameDay.objects.create(quarter="2026-Q4", scheduled_for=NOW.date())
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        gateway_ack(gateway_id="gw-eu-1", version=0, acting_user=gateway)
        gateway_ack(gateway_id="gw-us-1", version=0, acting_user=gateway)
    with time_machine.travel(NOW, tick=False) as traveller:
        exercise = gamedays.exercise_start(
            game_day=day,
            switch_path="feature:policy-search-v1",
            canary_slice="1%",
            acting_user=platform_team,
        )
        assert exercise.flip_version == policy.current_version() == 1
        doc = policy.served()
        assert b'"canary_exercises":[{"switch":"feature:policy-search-v1","canary":"1%"' in doc.json
        traveller.shift(timedelta(seconds=20))
        gateway_ack(gateway_id="gw-eu-1", version=1, acting_user=gateway)
        assert gamedays.time_to_kill(exercise) is None  # gw-us-1 still pending
        traveller.shift(timedelta(seconds=25))
        gateway_ack(gateway_id="gw-us-1", version=1, acting_user=gateway)
        assert gamedays.time_to_kill(exercise) == 45
        gamedays.exercise_verify(
            exercise, passed=True, evidence="keyword search served", acting_user=platform_team
        )
        gamedays.exercise_restore(exercise, acting_user=platform_team)
    exercise.refresh_from_db()
    assert exercise.time_to_kill_seconds == 45 and exercise.restored_at
    feature_switch.refresh_from_db()
    assert feature_switch.last_exercised_at == NOW
    assert policy.current_version() == 2
    assert b'"canary_exercises":[]' in policy.served().json


def test_it_turns_a_failed_exercise_into_a_follow_up(feature_switch, platform_team):
    day = GameDay.objects.create(quarter="2026-Q4", scheduled_for=NOW.date())
    with time_machine.travel(NOW, tick=False):
        exercise = gamedays.exercise_start(
            game_day=day,
            switch_path="feature:policy-search-v1",
            canary_slice="2%",
            acting_user=platform_team,
        )
        gamedays.exercise_verify(
            exercise, passed=False, evidence="fallback 500s", acting_user=platform_team
        )
    feature_switch.refresh_from_db()
    assert feature_switch.last_exercised_at is None
    assert gamedays.failed_follow_ups() == [exercise]


@pytest.mark.parametrize("canary", ["50%", "0%", "everyone", "tenant:unknown"])
def test_it_refuses_a_canary_that_is_not_a_small_slice(feature_switch, platform_team, canary):
    day = GameDay.objects.create(quarter="2026-Q4", scheduled_for=NOW.date())
    with pytest.raises(ValidationError):
        gamedays.exercise_start(
            game_day=day,
            switch_path="feature:policy-search-v1",
            canary_slice=canary,
            acting_user=platform_team,
        )
    assert not Exercise.objects.exists()
    assert policy.current_version() == 0


def test_it_runs_an_exercise_from_the_page_without_javascript(client, tenant_switch, support_eng):
    day = GameDay.objects.create(quarter="2026-Q4", scheduled_for=NOW.date())
    client.force_login(support_eng)
    page = client.get(f"/kill-switches/game-days/{day.pk}/")
    assert page.status_code == 200
    response = client.post(
        f"/kill-switches/game-days/{day.pk}/exercises/",
        {"switch_path": "tenant:enterprise-tenant-12891", "canary_slice": "5%"},
    )
    assert response.status_code == 302
    exercise = Exercise.objects.get()
    bad = client.post(
        f"/kill-switches/exercises/{exercise.pk}/verify/", {"result": "pass", "evidence": ""}
    )
    assert bad.status_code == 400
    client.post(
        f"/kill-switches/exercises/{exercise.pk}/verify/",
        {"result": "pass", "evidence": "https://evidence.example.com/1"},
    )
    client.post(f"/kill-switches/exercises/{exercise.pk}/restore/")
    exercise.refresh_from_db()
    assert exercise.result == "pass" and exercise.restored_at
    tenant_switch.refresh_from_db()
    assert tenant_switch.last_exercised_at is not None
    day.refresh_from_db()
    assert day.status == GameDay.Status.DONE  # the only switch is covered
    assert "not reporting" not in client.get("/kill-switches/game-days/").content.decode()


def test_it_puts_game_days_on_the_calendar(db):
    from changemgmt.windows.calendar import extra_events

    GameDay.objects.create(quarter="2026-Q4", scheduled_for=date(2026, 11, 11))
    events = extra_events(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert [e["title"] for e in events if e["kind"] == "game_day"] == [
        "Kill-switch game day 2026-Q4"
    ]


def test_it_offers_no_way_to_type_a_game_day_exercise_into_the_admin(admin_client):
    # Saving the add form (every field read-only) was an IntegrityError; an exercise is evidence
    # the game-day flow records, so the admin does not add one at all.
    assert admin_client.get("/admin/killswitches/exercise/add/").status_code == 403
    assert admin_client.post("/admin/killswitches/exercise/add/", {}).status_code == 403
    assert not Exercise.objects.exists()
