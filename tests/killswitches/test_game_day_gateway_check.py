"""A game-day exercise checks its fallback through the reference gateway and records the answer as
evidence; time-to-kill runs from the flip to the gateway's ack (issue 13.6).

The gateway is the package's own server and PolicyClient, refreshed by the test (so the database is
only ever used by one thread at a time on SQLite), against a live server."""

import threading

import pytest
from changemgmt_gateway import PolicyClient
from changemgmt_gateway.reference import make_server
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from changemgmt import clock
from changemgmt.killswitches import fallback_check, gamedays, signing
from changemgmt.killswitches.models import GameDay

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", password="gameday-pw-0", stdout=open("/dev/null", "w"))  # noqa: SIM115
    users = get_user_model().objects
    token = Token.objects.create(user=users.get(username="gateway")).key
    client = PolicyClient(live_server.url, token, signing.public_key_pem(), gateway_id="gw-demo-1")
    assert client.refresh()  # reporting before the flip
    server = make_server(client, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    day = GameDay.objects.get_or_create(
        quarter=gamedays.quarter_of(clock.now().date()),
        defaults={"scheduled_for": clock.now().date()},
    )[0]
    yield {
        "client": client,
        "url": f"http://127.0.0.1:{server.server_address[1]}",
        "day": day,
        "platform_team": users.get(username="platform_team"),
    }
    server.shutdown()
    server.server_close()


def start(world, switch_path, canary):
    return gamedays.exercise_start(
        game_day=world["day"], switch_path=switch_path, canary_slice=canary,
        acting_user=world["platform_team"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("switch_path", "canary", "expected"),
    [
        ("feature:support-assistant", "5%", '"served_by": "fallback", "fallback": "human-agent-queue"'),
        ("model:openai.gpt-4o-2024-11", "3%", '"model": "anthropic.claude-sonnet-4-5"'),
    ],
)  # fmt: skip
def test_it_checks_the_fallback_through_the_gateway_and_records_the_answer(
    world, switch_path, canary, expected
):
    exercise = start(world, switch_path, canary)
    assert world["client"].refresh()  # the gateway applies the exercise's version and acks it
    checked = fallback_check.exercise_check_through_gateway(
        exercise, acting_user=world["platform_team"], gateway_url=world["url"]
    )
    assert checked.fallback_verified is True, checked.evidence
    assert expected in checked.evidence
    assert f"policy v{exercise.flip_version}" in checked.evidence
    assert gamedays.time_to_kill(checked) is not None  # flip → gw-demo-1's ack


def test_it_records_a_fail_when_the_gateway_has_not_applied_the_exercise(world, monkeypatch):
    monkeypatch.setattr(fallback_check, "WAIT_FOR_VERSION_S", 0.3)
    exercise = start(world, "feature:support-assistant", "5%")
    checked = fallback_check.exercise_check_through_gateway(
        exercise, acting_user=world["platform_team"], gateway_url=world["url"]
    )
    assert checked.fallback_verified is False
    assert '"served_by": "model"' in checked.evidence and ": fail." in checked.evidence


def test_it_refuses_without_a_gateway_to_check_through(world, settings):
    from django.core.exceptions import ValidationError

    settings.REFERENCE_GATEWAY_URL = ""
    exercise = start(world, "feature:support-assistant", "5%")
    with pytest.raises(ValidationError, match="REFERENCE_GATEWAY_URL"):
        fallback_check.exercise_check_through_gateway(exercise, acting_user=world["platform_team"])
    exercise.refresh_from_db()
    assert exercise.fallback_verified is None


def test_it_offers_the_check_on_the_game_day_page(world, settings, client):
    settings.REFERENCE_GATEWAY_URL = world["url"]
    exercise = start(world, "feature:support-assistant", "5%")
    world["client"].refresh()
    client.force_login(world["platform_team"])
    page = client.get(f"/kill-switches/game-days/{world['day'].pk}/").content.decode()
    assert f"/kill-switches/exercises/{exercise.pk}/check-gateway/" in page
    response = client.post(f"/kill-switches/exercises/{exercise.pk}/check-gateway/")
    assert response.status_code == 302
    exercise.refresh_from_db()
    assert exercise.fallback_verified is True
