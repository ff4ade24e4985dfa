"""A row read under its lock is diffed against the values read, not against its previous history
row read again: a flip holds the policy counter for two fewer queries, and an email's outcome is
written without one. The suite checks every such diff against the previous history row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changemgmt.audit import chain
from changemgmt.audit.models import AuditRecord
from changemgmt.audit.verification import verify
from changemgmt.killswitches.models import FeatureSwitch
from changemgmt.killswitches.services import killswitch_flip
from tests.factories import FeatureFactory
from tests.killswitches.factories import FeatureSwitchFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def feature_switch(db):
    return FeatureSwitchFactory(feature=FeatureFactory(slug="drill-locked-reads"))


def flip(switch, user, *, engaged):
    return killswitch_flip(
        "feature", switch.feature.slug, engaged=engaged, reason="drill", acting_user=user
    )


def history_selects(queries):
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and ('"killswitches_historical' in q["sql"])
    ]


def test_a_flip_reads_no_history_row_and_its_records_show_the_change(
    monkeypatch, platform_team, feature_switch
):
    flip(feature_switch, platform_team, engaged=True)  # the policy counter exists
    monkeypatch.setattr(chain, "CHECK_ECHO", False)  # the suite's own read-back, off
    with CaptureQueriesContext(connection) as queries:
        result = flip(feature_switch, platform_team, engaged=False)
    assert history_selects(queries.captured_queries) == []
    switch_record, version_record = (
        AuditRecord.objects.filter(object_model=model).latest("seq")
        for model in ("killswitches.featureswitch", "killswitches.policyversion")
    )
    assert switch_record.changes["enabled"] == [False, True]
    assert version_record.changes["current"] == [result.version - 1, result.version]
    assert verify().records == AuditRecord.objects.count()


def test_under_the_suite_a_write_that_bypassed_history_fails_loudly(platform_team, feature_switch):
    """The values read under the lock are what the previous history row holds only if every
    write made one: the suite compares them, so a write behind history's back fails a test."""
    FeatureSwitch.objects.filter(pk=feature_switch.pk).update(fallback="cached")
    with pytest.raises(AssertionError, match="are not the previous history row's"):
        flip(feature_switch, platform_team, engaged=True)
