"""The chain's append holds the head lock for one call on PostgreSQL (a server-side function),
and hashes what `AuditRecord.compute_hash` would, whatever the record's text holds."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from changemgmt.audit import append
from changemgmt.audit.models import AuditHead, AuditRecord
from changemgmt.audit.notify import notify
from changemgmt.audit.verification import verify
from changemgmt.killswitches.services import killswitch_flip
from tests.factories import FeatureFactory
from tests.killswitches.factories import FeatureSwitchFactory

pytestmark = pytest.mark.django_db


def awkward(n):
    return {
        "seq": None,  # the key the hashed text is split at, nested in the record's changes
        "text": f'quote " backslash \\ tab \t newline \n emoji 🛑 é {n}',
        "nested": {"seq": None, "list": [1, 2.5, None, True]},
    }


@pytest.mark.postgres
def test_a_flip_appends_its_records_in_one_call_and_touches_the_head_in_none(platform_team):
    switch = FeatureSwitchFactory(feature=FeatureFactory(slug="drill-append"))
    with CaptureQueriesContext(connection) as queries:
        killswitch_flip(
            "feature", switch.feature.slug, engaged=True, reason="drill", acting_user=platform_team
        )
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("changemgmt_audit_append" in s for s in sql) == 1
    assert [s for s in sql if "audit_audithead" in s or 'INSERT INTO "audit_auditrecord' in s] == []
    assert verify().records == AuditRecord.objects.count()


@pytest.mark.parametrize("count", [1, 30])
def test_records_with_any_text_chain_and_verify(count):
    with transaction.atomic():
        for n in range(count):
            notify(
                "drill.awkward",
                subject=f"awkward ✓ {n}",
                body=awkward(n)["text"],
                recipients=["a@example.com"],
                payload=awkward(n),
            )
    records = list(AuditRecord.objects.filter(object_model="audit.notification").order_by("seq"))
    assert len(records) == count
    assert all(r.hash == r.compute_hash() for r in records)
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (records[-1].seq, records[-1].hash)
    assert verify().records == AuditRecord.objects.count()


def test_the_text_around_the_seq_rebuilds_the_hashed_text():
    record = AuditRecord(
        seq=41, created_at=None, history_model="m", history_id=1, object_model="o",
        object_id="1", object_repr="r", object_key="", action="~", actor_id=None,
        actor_username="", reason='"seq":null in a reason', changes=awkward(1), ticket_id=None,
        content_hash="c" * 64, prev_hash="p" * 64,
    )  # fmt: skip
    before, after = record.hashed_text_around_seq()
    assert append._hash(record, before, after) == record.compute_hash()
