"""POST /api/v1/changes/{change_id}/metrics/: validated samples, all or nothing."""

import pytest
import time_machine
from rest_framework.test import APIClient

from changemgmt.rollouts.models import HealthSample
from tests.factories import UserFactory
from tests.rollouts.conftest import ny

NOW = ny(2027, 2, 10, 10, 15)


@pytest.fixture
def observability(db):
    return UserFactory(username="observability", roles=["observability"])


@pytest.fixture
def post(ramping_ticket):
    def send(user, body):
        client = APIClient()
        client.force_authenticate(user)
        with time_machine.travel(NOW, tick=False):
            return client.post(
                f"/api/v1/changes/{ramping_ticket.change_id}/metrics/", body, format="json"
            )

    return send


def test_it_accepts_one_sample(post, observability, ramping_ticket):
    response = post(
        observability,
        {"metric": "error_rate", "value": 0.004, "observed_at": "2027-02-10T15:12:00Z"},
    )
    assert response.status_code == 201, response.json()
    assert response.json() == {
        "change_id": ramping_ticket.change_id,
        "accepted": 1,
        "duplicates": 0,
        "detail": "1 stored.",
    }
    sample = HealthSample.objects.get()
    assert (sample.metric, sample.value, sample.stage_index) == ("error_rate", 0.004, 0)
    assert sample.received_at == NOW and sample.posted_by == observability


def test_it_accepts_a_list(post, observability):
    rows = [
        {"metric": m, "value": 0.001, "observed_at": "2027-02-10T15:10:00Z"}
        for m in ("eval_score_drift", "negative_feedback_rate", "latency_p95_ms")
    ]
    assert post(observability, rows).status_code == 201
    assert HealthSample.objects.count() == 3


@pytest.mark.parametrize(
    "bad, field",
    [
        ({"metric": "cpu", "value": 1, "observed_at": "2027-02-10T15:10:00Z"}, "metric"),
        ({"metric": "error_rate", "value": "NaN", "observed_at": "2027-02-10T15:10:00Z"}, "value"),
        ({"metric": "error_rate", "value": "inf", "observed_at": "2027-02-10T15:10:00Z"}, "value"),
        ({"metric": "error_rate", "value": True, "observed_at": "2027-02-10T15:10:00Z"}, "value"),
        ({"metric": "error_rate", "value": "x", "observed_at": "2027-02-10T15:10:00Z"}, "value"),
        (
            {"metric": "error_rate", "value": 0.1, "observed_at": "2027-02-10T15:16:00Z"},
            "observed_at",
        ),
        ({"metric": "error_rate", "value": 0.1, "observed_at": "yesterday"}, "observed_at"),
        (
            {"metric": "error_rate", "value": 0.1, "observed_at": "2027-02-10T14:59:00Z"},
            "observed_at",
        ),
        ({"metric": "error_rate", "value": 0.1}, "observed_at"),
    ],
)
def test_it_refuses_a_bad_sample_with_field_messages(post, observability, bad, field):
    good = {"metric": "error_rate", "value": 0.001, "observed_at": "2027-02-10T15:10:00Z"}
    response = post(observability, [good, bad])
    assert response.status_code == 400
    body = response.json()
    assert field in str(body)
    assert HealthSample.objects.count() == 0  # nothing saved on any bad item


@pytest.mark.parametrize("body", [[], "text", 42, [1, 2]])
def test_it_refuses_malformed_bodies_without_a_500(post, observability, body):
    assert post(observability, body).status_code == 400
    assert HealthSample.objects.count() == 0


def test_it_refuses_samples_for_a_ticket_that_is_not_ramping(observability, scheduled_ticket):
    client = APIClient()
    client.force_authenticate(observability)
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            f"/api/v1/changes/{scheduled_ticket.change_id}/metrics/",
            {"metric": "error_rate", "value": 0.01, "observed_at": "2027-02-10T15:10:00Z"},
            format="json",
        )
    assert response.status_code == 400
    assert "not ramping" in str(response.json())


@pytest.mark.parametrize(
    "persona",
    ["author", "gateway", "auditor", "outsider", "release_manager", "platform_team"],
)
def test_it_refuses_roles_that_may_not_post(post, persona, request):
    # Health data drives promotion: a person, even the release manager, may not invent it.
    user = request.getfixturevalue(persona)
    response = post(
        user, {"metric": "error_rate", "value": 0.01, "observed_at": "2027-02-10T15:10:00Z"}
    )
    assert response.status_code == 403
    assert "observability" in response.json()["detail"]
    assert HealthSample.objects.count() == 0


def test_it_refuses_a_human_poster_in_the_service_too(ramping_ticket, release_manager):
    from django.core.exceptions import PermissionDenied

    from changemgmt.rollouts.services import samples_record

    row = {"metric": "error_rate", "value": 0.001, "observed_at": ny(2027, 2, 10, 10, 10)}
    with time_machine.travel(NOW, tick=False), pytest.raises(PermissionDenied) as denied:
        samples_record(ramping_ticket, acting_user=release_manager, samples=[row])
    assert "observability" in str(denied.value)
    assert HealthSample.objects.count() == 0


def test_it_answers_404_for_an_unknown_change(observability, db):
    client = APIClient()
    client.force_authenticate(observability)
    response = client.post(
        "/api/v1/changes/CHG-2026-99999/metrics/",
        {"metric": "error_rate", "value": 0.01, "observed_at": "2026-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 404
