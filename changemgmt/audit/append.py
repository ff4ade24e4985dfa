"""Appending to the audit chain (chain.py builds the records; verification.py walks the chain).

`append_record` runs for every simple-history row (post_create_historical_record) and chains the
record in the writer's transaction, just before it commits: nothing is recorded if the change rolls
back, nothing changes without a record, and the chain lock is the last lock any writer takes.
"""

import hashlib
import json

from django.db import DatabaseError, IntegrityError, transaction

from . import chain
from .models import AuditHead, AuditRecord


def _lock_head() -> AuditHead:
    try:
        return AuditHead.objects.select_for_update().get(pk=1)
    except AuditHead.DoesNotExist:
        # Only on an empty database (migrations create the row; a test flush removes it).
        try:
            with transaction.atomic():
                AuditHead.objects.create(pk=1)
        except IntegrityError:
            pass
        return AuditHead.objects.select_for_update().get(pk=1)


def chain_records(records: list[AuditRecord], *, commit: bool = False) -> None:
    """Give `records` the next places in the chain and insert them: the only moment the head row
    is locked, so the lock is held for a few inserts, never for a writer's whole use case. Runs in
    the caller's transaction (at its very end, see `append_record`).

    What costs time (the canonical text of each record) is done before the lock. On PostgreSQL
    the append is then one call of a server-side function (migration 0005): lock, hash, insert,
    move the head. With `commit` (the pre-commit flush), the COMMIT goes in the same message, so
    the server commits without waiting for the client: a writer's process cannot stretch the
    time it holds the lock at all (a thread waiting for the GIL while three others run, under
    load, or a process waiting for a CPU). Elsewhere the caller commits, as ever."""
    texts = [record.hashed_text_around_seq() for record in records]
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        _append_in_postgres(connection, records, texts, commit=commit)
        return
    head = _lock_head()
    seq, prev_hash = head.seq, head.hash
    for record, (before, after) in zip(records, texts, strict=True):
        seq += 1
        record.seq, record.prev_hash = seq, prev_hash
        record.hash = prev_hash = _hash(record, before, after)
    AuditRecord.objects.bulk_create(records)
    head.seq, head.hash = seq, prev_hash
    head.save(update_fields=["seq", "hash"])


def _hash(record: AuditRecord, before: str, after: str) -> str:
    blob = record.prev_hash + record.content_hash + before + str(record.seq) + after
    return hashlib.sha256(blob.encode()).hexdigest()


_APPENDED = ("history_model", "object_model", "object_id", "object_repr", "object_key", "action")
_APPENDED += ("actor_username", "reason", "content_hash", "history_id", "actor_id", "ticket_id")


def _append_in_postgres(connection, records, texts, *, commit: bool) -> None:
    items = [
        {name: getattr(record, name) for name in _APPENDED}
        | {
            "created_at": record.created_at.isoformat(),
            "changes": record.changes,
            "before_seq": before,
            "after_seq": after,
        }
        for record, (before, after) in zip(records, texts, strict=True)
    ]
    sql = "SELECT * FROM changemgmt_audit_append(%s::jsonb)"
    with connection.cursor() as cursor:
        # Two statements in one simple query (Django's psycopg cursor binds on the client): the
        # first one's rows are the cursor's. psycopg's commit() is then a no-op (nothing open).
        together = commit and not connection.settings_dict["OPTIONS"].get("server_side_binding")
        cursor.execute(f"{sql}; COMMIT" if together else sql, [json.dumps(items)])
        placed = cursor.fetchall()
    # Once committed, these are alarms, not guards: verify_audit finds the same.
    if len(placed) != len(records):
        raise DatabaseError(f"the audit append placed {len(placed)} of {len(records)} records")
    for record, (pk, seq, prev_hash, record_hash) in zip(records, placed, strict=True):
        record.pk, record.seq, record.prev_hash, record.hash = pk, seq, prev_hash, record_hash
        record._state.adding, record._state.db = False, connection.alias
        if chain.CHECK_ECHO and record.compute_hash() != record_hash:
            raise AssertionError(f"PostgreSQL hashed record #{seq} unlike compute_hash")


def append_record(history_instance, instance=None) -> AuditRecord:
    """Record one new history row: built now, chained when its transaction ends.

    Inside a transaction the record waits (as an on_commit entry, so a rolled-back savepoint takes
    it along) until just before COMMIT, when all of the transaction's records are chained at once.
    Every writer therefore takes the chain lock last and for milliseconds: no lock order to get
    wrong (the policy counter, a ramp, a switch are always taken before it), and a flip never
    queues behind a ticket that is still being filed. Outside a transaction it is chained at once.
    """
    record = chain.build_record(history_instance, instance)
    connection = transaction.get_connection()
    if _chains_at_commit(connection):
        _hook(connection)
        transaction.on_commit(_Pending(record))
    else:
        with transaction.atomic():
            chain_records([record])
    return record


class _Pending:
    """An audit record waiting for the end of its transaction. Called by Django only if the
    transaction committed without the pre-commit flush (a connection not hooked): chained then."""

    def __init__(self, record: AuditRecord):
        self.record = record

    def __call__(self):
        with transaction.atomic():
            chain_records([self.record])


def _real_blocks(connection) -> list:
    # A test case's own atomic blocks never commit; the blocks a use case opens inside them do.
    return [b for b in connection.atomic_blocks if not getattr(b, "_from_testcase", False)]


def _chains_at_commit(connection) -> bool:
    real = _real_blocks(connection)
    if not connection.in_atomic_block or not real:
        return False
    # Under a test case the outermost real block ends by releasing its savepoint; one opened
    # without a savepoint ends silently, so its records are chained at once instead.
    nested = len(real) < len(connection.atomic_blocks)
    return not (nested and not real[0].savepoint)


def _hook(connection) -> None:
    """Chain the pending records just before the transaction commits (or, under a test case, just
    before the outermost block of the use case releases its savepoint)."""
    if getattr(connection, "_audit_chain_hooked", False):
        return
    commit, savepoint_commit = connection.commit, connection.savepoint_commit

    def commit_chained():
        _flush(connection, commit=True)
        commit()  # on PostgreSQL, sent with the append when there were records

    def savepoint_commit_chained(sid):
        blocks = connection.atomic_blocks
        if blocks and not _real_blocks(connection):
            _flush(connection)
        savepoint_commit(sid)

    connection.commit = commit_chained
    connection.savepoint_commit = savepoint_commit_chained
    connection._audit_chain_hooked = True


def _flush(connection, *, commit: bool = False) -> None:
    # Chaining can itself release a savepoint (the head row created on an emptied database): that
    # inner release must not flush the same records again from under the outer flush.
    if getattr(connection, "_audit_chain_flushing", False):
        return
    entries = connection.run_on_commit
    # A record with a primary key is in the chain already (an earlier flush of this transaction):
    # chaining it twice would insert it twice.
    pending = [
        entry[1].record
        for entry in entries
        if isinstance(entry[1], _Pending) and entry[1].record.pk is None
    ]
    if not pending:
        return
    connection._audit_chain_flushing = True
    try:
        chain_records(pending, commit=commit)
    except DatabaseError:
        raise
    except Exception as exc:  # Atomic rolls back on a DatabaseError only
        raise DatabaseError(f"could not append to the audit chain: {exc}") from exc
    finally:
        connection._audit_chain_flushing = False
    connection.run_on_commit = [e for e in entries if not isinstance(e[1], _Pending)]
