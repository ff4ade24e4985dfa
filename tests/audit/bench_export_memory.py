"""Benchmark (not a test): peak memory of streaming the audit CSV export of N records.

    .venv/bin/python -m tests.audit.bench_export_memory [N ...]        # SQLite (a scratch file)
    DATABASE_URL=postgres://… .venv/bin/python -m tests.audit.bench_export_memory 100000

Creates a scratch test database (test_<name>), fills audit_auditrecord with N rows (bulk insert:
this is load generation, not the app's write path — the chain is not valid in it), then downloads
/audit/export.csv as an auditor through the test client and reads the stream to the end,
recording Python's peak allocation (tracemalloc) and the process RSS before and after.
"""

import os
import sys
import tempfile
import time
import tracemalloc

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changemgmt.settings")
os.environ.setdefault("AXES_ENABLED", "false")

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

BATCH = 5000


def fill(n):
    from changemgmt.audit.models import AuditRecord

    now = timezone.now()
    with connection.cursor() as cursor:  # scratch DB only; TRUNCATE fires no row trigger
        cursor.execute(
            "DELETE FROM audit_auditrecord"
            if connection.vendor == "sqlite"
            else "TRUNCATE audit_auditrecord"
        )
    start = 0
    for offset in range(0, n, BATCH):
        AuditRecord.objects.bulk_create(
            AuditRecord(
                seq=start + i + 1,
                created_at=now,
                history_model="tickets.historicalchangeticket",
                history_id=start + i + 1,
                object_model="tickets.changeticket",
                object_id=str(i % 5000),
                object_repr=f"CHG-2026-{i % 99999:05d} Handle the new travel-insurance product line",
                action="~",
                actor_id=1,
                actor_username="release_manager",
                reason="promote: stage 2 of 4 baked 4h with 240 healthy samples",
                changes={"state": ["ramping", "ramping"], "updated_at": [str(now), str(now)]},
                ticket_id=i % 5000,
                content_hash="c" * 64,
                prev_hash="p" * 64,
                hash="h" * 64,
            )
            for i in range(offset, min(n, offset + BATCH))
        )


def export(client):
    rss = psutil.Process()
    before = rss.memory_info().rss
    tracemalloc.start()
    started = time.monotonic()
    response = client.get("/audit/export.csv")
    size = rows = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        rows += chunk.count(b"\n")
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = rss.memory_info().rss
    return rows - 1, size, peak, before, after, elapsed


def main(sizes):
    from changemgmt import roles
    from tests.factories import UserFactory

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.AXES_ENABLED = False
    if connection.vendor == "sqlite":
        connection.settings_dict["TEST"]["NAME"] = os.path.join(tempfile.mkdtemp(), "bench.sqlite3")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        client = Client()
        client.force_login(UserFactory(username="auditor", roles=[roles.AUDITOR]))
        for n in sizes:
            fill(n)
            rows, size, peak, before, after, elapsed = export(client)
            print(
                f"{connection.vendor}: {rows:,} rows, {size / 1e6:.1f} MB CSV in {elapsed:.1f}s; "
                f"Python peak allocation {peak / 1e6:.1f} MB; "
                f"RSS {before / 1e6:.0f} → {after / 1e6:.0f} MB"
            )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
