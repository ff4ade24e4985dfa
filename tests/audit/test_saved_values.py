"""An audit record's row values come from the history instance just saved, not from reading the
row back (one query per history row: 50 for a ticket with 50 eval rows, two while a flip holds
the policy counter), where the field types read back the same; elsewhere the row is read."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changemgmt.audit import chain
from changemgmt.audit.models import AuditRecord, Notification
from changemgmt.audit.notify import notify
from changemgmt.audit.verification import verify
from changemgmt.killswitches.services import killswitch_flip
from tests.factories import FeatureFactory
from tests.killswitches.factories import FeatureSwitchFactory

pytestmark = pytest.mark.django_db


def history_reads(queries, table):
    """SELECTs of `table` by history id: the read-back of a row just inserted."""
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT")
        and f'FROM "{table}"' in q["sql"]
        and '"history_id" =' in q["sql"]
    ]


@pytest.fixture
def feature_switch(db):
    return FeatureSwitchFactory(feature=FeatureFactory(slug="drill-saved-values"))


def engage(switch, user):
    return killswitch_flip(
        "feature", switch.feature.slug, engaged=True, reason="drill", acting_user=user
    )


@pytest.fixture
def unchecked(monkeypatch):
    monkeypatch.setattr(chain, "CHECK_ECHO", False)  # the suite's own read-back, off


def test_a_flip_reads_none_of_its_history_rows_back_and_the_chain_verifies(
    unchecked, platform_team, feature_switch
):
    with CaptureQueriesContext(connection) as queries:
        engage(feature_switch, platform_team)
    for table in (
        "killswitches_historicalfeatureswitch",
        "killswitches_historicalpolicyversion",
        "audit_historicalnotification",
    ):
        assert history_reads(queries.captured_queries, table) == [], table
    record = AuditRecord.objects.filter(object_model="killswitches.featureswitch").latest("seq")
    assert record.changes["enabled"] == [True, False]
    assert record.object_key == "feature:drill-saved-values"
    assert verify().records == AuditRecord.objects.count()


def test_a_value_the_database_would_give_back_differently_is_read_back(unchecked, platform_team):
    """jsonb gives a float of 1e16 and more back as an integer: that row is read, not guessed."""
    with CaptureQueriesContext(connection) as queries:
        notify(
            "drill.large-number",
            subject="s",
            body="b",
            recipients=["a@example.com"],
            payload={"users": 4e16},
        )
    assert len(history_reads(queries.captured_queries, "audit_historicalnotification")) == 1
    assert Notification.objects.get(event="drill.large-number").pk
    assert verify().records == AuditRecord.objects.count()


def test_under_the_suite_a_value_that_would_not_read_back_the_same_fails_loudly(
    monkeypatch, platform_team, feature_switch
):
    monkeypatch.setattr(chain, "_echoed", lambda field, value: "not what is stored")
    with pytest.raises(AssertionError, match="do not read back as stored"):
        engage(feature_switch, platform_team)
