"""Concurrent writers on PostgreSQL append to one chain: the head row lock serializes them."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from changemgmt.audit.models import AuditHead, AuditRecord
from changemgmt.audit.recording import save_audited
from changemgmt.catalog.models import Cohort

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WRITERS, WRITES = 6, 8


def test_concurrent_writers_never_fork_the_chain(outsider, capsys):
    start = threading.Barrier(WRITERS)
    errors = []

    def writer(n):
        try:
            start.wait()
            for i in range(WRITES):
                with transaction.atomic():
                    save_audited(
                        Cohort(slug=f"w{n}-{i}", name=f"writer {n}"),
                        acting_user=outsider,
                        reason=f"writer {n} write {i}",
                    )
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    records = list(AuditRecord.objects.order_by("seq").values_list("seq", "prev_hash", "hash"))
    assert len(records) >= WRITERS * WRITES
    assert [seq for seq, _, _ in records] == list(range(1, len(records) + 1))
    for (_, _, previous), (_, prev_hash, _) in zip(records, records[1:], strict=False):
        assert prev_hash == previous
    assert AuditHead.objects.get(pk=1).hash == records[-1][2]
    call_command("verify_audit")
    assert "intact" in capsys.readouterr().out
