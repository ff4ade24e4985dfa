"""A flip or transition whose reply was lost (the worker died after commit) is retried with the
same Idempotency-Key: the retry answers the first answer and changes nothing."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client

from changemgmt import clock
from changemgmt.killswitches import policy

pytestmark = pytest.mark.django_db

URL = "/api/v1/kill-switches/model/openai.gpt-4o-2024-11/flip/"
ENGAGE = {"engaged": True, "reason": "GPT-4o is answering in Klingon"}


def flip(client, body=ENGAGE, key="flip-1", url=URL):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(url, body, content_type="application/json", headers=headers)


def test_a_retry_with_the_key_answers_the_first_answer_and_flips_once(
    client, platform_team, model_switch
):
    client.force_login(platform_team)
    first = flip(client)
    retry = flip(client)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert first.json()["changed"] is True and first.json()["version"] == 1
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert policy.current_version() == 1
    assert model_switch.history.count() == 2  # created, then one flip


def test_without_the_key_a_second_flip_is_judged_afresh(client, platform_team, model_switch):
    client.force_login(platform_team)
    flip(client, key=None)
    again = flip(client, key=None)
    assert again.json()["changed"] is False
    assert "Idempotent-Replayed" not in again


def test_the_same_key_with_another_body_is_refused(client, platform_team, model_switch):
    client.force_login(platform_team)
    flip(client)
    other = flip(client, body={"engaged": False, "reason": "fixed"})
    assert other.status_code == 422
    assert "different request body" in other.json()["detail"]
    model_switch.refresh_from_db()
    assert model_switch.disabled
    assert policy.current_version() == 1


def test_the_key_is_scoped_to_the_user_and_the_endpoint(
    client, platform_team, model_switch, feature_switch, request
):
    client.force_login(platform_team)
    flip(client)
    feature_url = f"/api/v1/kill-switches/feature/{feature_switch.feature.slug}/flip/"
    elsewhere = flip(client, url=feature_url)
    assert "Idempotent-Replayed" not in elsewhere
    assert elsewhere.json()["switch"] == f"feature:{feature_switch.feature.slug}"
    other_user = Client()
    other_user.force_login(request.getfixturevalue("admin_user"))
    theirs = flip(other_user, body={"engaged": False, "reason": "back on"})
    assert theirs.status_code in (200, 403)
    assert "Idempotent-Replayed" not in theirs


def test_the_stored_answer_expires(client, platform_team, model_switch, settings):
    client.force_login(platform_team)
    flip(client)
    later = clock.now() + timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL + 1)
    with time_machine.travel(later, tick=False):
        client.force_login(platform_team)
        again = flip(client)
    assert "Idempotent-Replayed" not in again
    assert again.json()["changed"] is False  # judged afresh: already engaged


@pytest.mark.parametrize("key", ["", "k" * 256, "naïve"])
def test_a_malformed_key_is_refused_with_400(client, platform_team, model_switch, key):
    client.force_login(platform_team)
    response = flip(client, key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    model_switch.refresh_from_db()
    assert not model_switch.disabled


def test_a_transition_retried_with_the_key_happens_once(client, author):
    from tests.factories import TicketFactory

    ticket = TicketFactory(author=author)
    client.force_login(author)
    url = f"/api/v1/changes/{ticket.change_id}/submit/"
    headers = {"Idempotency-Key": "submit-1"}
    first = client.post(url, {}, content_type="application/json", headers=headers)
    retry = client.post(url, {}, content_type="application/json", headers=headers)
    assert first.status_code == 200, first.content
    assert retry.status_code == 200 and retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert ticket.history.filter(history_change_reason__startswith="submit").count() <= 1
    assert ticket.history.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_retries_flip_once(platform_team, model_switch):
    answers, errors = [], []
    barrier = threading.Barrier(2)

    def send():
        client = Client()
        client.force_login(platform_team)
        try:
            barrier.wait(timeout=10)
            response = flip(client)
            answers.append((response.status_code, response.json()))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [status for status, _ in answers] == [200, 200]
    assert answers[0][1] == answers[1][1]
    assert policy.current_version() == 1
