"""A sample is one observation: (ticket, metric, observed_at, source), or the poster's
idempotency key. A repeated post changes nothing and says so, so a retry never counts twice toward
a stage's minimum (issue 11 item 8)."""

from datetime import timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from changemgmt.rollouts.models import HealthSample
from changemgmt.rollouts.services import samples_record
from tests.factories import UserFactory
from tests.rollouts.conftest import METRICS, feed, ny, stage_percent, tick

NOW = ny(2027, 2, 10, 10, 15)


@pytest.fixture
def observability(db):
    return UserFactory(username="observability", roles=["observability"])


def post(ticket, user, body):
    client = APIClient()
    client.force_authenticate(user)
    with time_machine.travel(NOW, tick=False):
        return client.post(f"/api/v1/changes/{ticket.change_id}/metrics/", body, format="json")


def rows(n=3, **extra):
    return [
        {"metric": "error_rate", "value": 0.001, "observed_at": f"2027-02-10T15:1{k}:00Z", **extra}
        for k in range(n)
    ]


def test_it_stores_a_repeated_post_once_and_says_so(ramping_ticket, observability):
    first = post(ramping_ticket, observability, rows())
    assert first.status_code == 201
    assert first.json()["accepted"] == 3 and first.json()["duplicates"] == 0

    again = post(ramping_ticket, observability, rows())
    assert again.status_code == 200, again.json()
    body = again.json()
    assert (body["accepted"], body["duplicates"]) == (0, 3)
    assert "already on record" in body["detail"] and "nothing changed" in body["detail"]
    assert HealthSample.objects.count() == 3


def test_it_counts_a_sample_repeated_within_one_post_once(ramping_ticket, observability):
    response = post(ramping_ticket, observability, rows(2) + rows(2))
    assert response.status_code == 201
    assert (response.json()["accepted"], response.json()["duplicates"]) == (2, 2)
    assert HealthSample.objects.count() == 2


def test_it_identifies_a_sample_by_its_idempotency_key(ramping_ticket, observability):
    sample = {
        "metric": "error_rate",
        "value": 0.001,
        "observed_at": "2027-02-10T15:10:00Z",
        "idempotency_key": "obs-1",
    }
    assert post(ramping_ticket, observability, sample).status_code == 201
    # A retry whose clock moved: the key says it is the same sample.
    retry = {**sample, "observed_at": "2027-02-10T15:11:00Z"}
    response = post(ramping_ticket, observability, retry)
    assert response.status_code == 200 and response.json()["duplicates"] == 1
    assert HealthSample.objects.get().idempotency_key == "obs-1"
    # Two keyed samples may share an observation time: the key is their identity.
    other = {**sample, "idempotency_key": "obs-2"}
    assert post(ramping_ticket, observability, other).status_code == 201
    assert HealthSample.objects.count() == 2


def test_it_keeps_the_same_observation_from_another_source(ramping_ticket):
    at = ny(2027, 2, 10, 10, 10)
    sample = [{"metric": "error_rate", "value": 0.001, "observed_at": at}]
    with time_machine.travel(at + timedelta(seconds=5), tick=False):
        samples_record(ramping_ticket, acting_user=None, samples=sample)
        samples_record(ramping_ticket, acting_user=None, samples=sample, source="prometheus")
        repeat = samples_record(ramping_ticket, acting_user=None, samples=sample)
    assert repeat.duplicates == 1 and repeat.stored == []
    assert sorted(HealthSample.objects.values_list("source", flat=True)) == ["prometheus", "push"]


def test_it_holds_a_ramp_whose_samples_were_posted_twice_as_inconclusive(ramping_ticket):
    # 19 distinct observations per metric, posted twice: still 19, one short of the minimum 20.
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10), n=19)
    repeat = feed(ramping_ticket, ny(2027, 2, 10, 10, 10), n=19)
    assert repeat.duplicates == 19 * len(METRICS) and repeat.stored == []
    assert tick(ny(2027, 2, 10, 10, 30)) == [(ramping_ticket.change_id, "held: inconclusive")]
    assert stage_percent(ramping_ticket) == 1
