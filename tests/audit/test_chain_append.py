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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_head_is_free_and_the_flip_committed_once_the_append_answers(platform_team):
    """The append and the COMMIT go to the server as one message: no writer holds the head
    while its process waits for a CPU (or its thread for the GIL) to send the COMMIT."""
    import psycopg
    from django.conf import settings

    switch = FeatureSwitchFactory(feature=FeatureFactory(slug="drill-append-commit"))
    db = settings.DATABASES["default"]
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"],
        autocommit=True,
    )  # fmt: skip
    count = "SELECT count(*) FROM audit_auditrecord WHERE object_model = %s AND object_id = %s"
    of_switch = ["killswitches.featureswitch", str(switch.pk)]
    (before,) = other.execute(count, of_switch).fetchone()
    seen = []

    def look(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "changemgmt_audit_append" in sql:
            try:
                other.execute("SELECT id FROM audit_audithead WHERE id = 1 FOR UPDATE NOWAIT")
                free = True
            except psycopg.errors.LockNotAvailable:
                free = False
            seen.append((free, other.execute(count, of_switch).fetchone()[0]))
        return result

    try:
        with connection.execute_wrapper(look):
            killswitch_flip(
                "feature", switch.feature.slug, engaged=True, reason="drill",
                acting_user=platform_team,
            )  # fmt: skip
    finally:
        other.close()
    # The flip's own append, then those after its commit (the document, the email's outcome).
    assert len(seen) >= 2
    assert seen[0] == (True, before + 1)
    assert all(free for free, _ in seen)
    assert verify().records == AuditRecord.objects.count()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_commit_refused_with_the_append_saves_nothing_and_the_chain_goes_on():
    """A deferred foreign key is checked at COMMIT, now sent with the append: the writer gets
    the IntegrityError, nothing of it is kept, and the connection's next write chains."""
    from django.db import IntegrityError

    from changemgmt import clock
    from changemgmt.audit.models import Notification

    FeatureSwitchFactory(feature=FeatureFactory(slug="drill-before"))
    head = AuditHead.objects.get(pk=1)
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            Notification.objects.create(
                event="drill.deferred",
                ticket_id=999_999,
                subject="dangling",
                created_at=clock.now(),
            )
    assert not Notification.objects.filter(event="drill.deferred").exists()
    assert AuditHead.objects.get(pk=1).seq == head.seq
    after = FeatureSwitchFactory(feature=FeatureFactory(slug="drill-after"))
    assert AuditHead.objects.get(pk=1).seq > head.seq
    assert AuditRecord.objects.filter(object_model="killswitches.featureswitch", object_id=after.pk)
    assert verify().records == AuditRecord.objects.count()
