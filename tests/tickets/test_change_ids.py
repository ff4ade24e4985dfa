"""Change IDs: CHG-<year>-<5 digits>, sequential within the year, never reused."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from changemgmt.tickets import services
from changemgmt.tickets.models import ChangeIdCounter, ChangeTicket
from tests.factories import FeatureFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def feature():
    return FeatureFactory(slug="support-assistant", risk_tier="medium")


def file(author, feature, **data):
    return services.ticket_create(
        acting_user=author,
        data={
            "title": "Prompt tweak",
            "summary": "Handle the new product line",
            "feature": feature,
            "classification": "prompt",
            **data,
        },
        eval_deltas=[{"metric": "groundedness", "baseline": 0.8, "candidate": 0.81}],
    )


def test_it_numbers_tickets_sequentially_within_the_year(author, feature):
    with time_machine.travel(datetime(2026, 3, 4, 10, tzinfo=UTC), tick=False):
        ids = [file(author, feature).change_id for _ in range(3)]
    assert ids == ["CHG-2026-00001", "CHG-2026-00002", "CHG-2026-00003"]


def test_it_restarts_the_sequence_in_a_new_year(author, feature):
    with time_machine.travel(datetime(2026, 12, 31, 23, 59, tzinfo=UTC), tick=False):
        assert file(author, feature).change_id == "CHG-2026-00001"
        assert file(author, feature).change_id == "CHG-2026-00002"
    with time_machine.travel(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC), tick=False):
        assert file(author, feature).change_id == "CHG-2027-00001"
    with time_machine.travel(datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC), tick=False):
        assert file(author, feature).change_id == "CHG-2026-00003"


def test_it_never_reuses_the_number_of_a_cancelled_ticket(author, feature):
    with time_machine.travel(datetime(2026, 5, 5, 10, tzinfo=UTC), tick=False):
        first = file(author, feature)
        services.ticket_transition(first, "cancel", acting_user=author, reason="duplicate")
        second = file(author, feature)
    assert (first.change_id, second.change_id) == ("CHG-2026-00001", "CHG-2026-00002")
    assert ChangeTicket.objects.filter(change_id="CHG-2026-00001").count() == 1


def test_it_consumes_no_number_for_a_refused_filing(author, feature):
    with time_machine.travel(datetime(2026, 5, 5, 10, tzinfo=UTC), tick=False):
        with pytest.raises(ValidationError):
            file(author, feature, title="x" * 201)
        with pytest.raises(ValidationError):
            file(author, feature, risk_tier="low")
        assert not ChangeTicket.objects.exists()
        assert file(author, feature).change_id == "CHG-2026-00001"
    assert ChangeIdCounter.objects.get(year=2026).last == 1


def test_it_files_with_the_tier_inherited_from_the_feature_and_a_history_row(author, feature):
    ticket = file(author, feature)
    assert ticket.risk_tier == "medium" and ticket.state == "draft"
    row = ticket.history.get()
    assert (row.history_user, row.history_change_reason, row.change_id) == (
        author,
        "filed",
        ticket.change_id,
    )
