"""Walking the audit chain to prove nobody wrote around the app.

`verify` runs four checks, each a function below, and stops at the first break:
1. the chain itself, in order, against the history rows it recorded and the signed checkpoints;
2. the head row against the last record, and the checkpoints against the chain's length;
3. every history row has its record (none inserted outside the app);
4. every audited live row still equals its latest history row, and every object whose latest
   history row is not a deletion still has its live row (none changed or deleted outside the app).
Memory stays flat: records, history rows and live rows are read in chunks.
"""

from dataclasses import dataclass

from django.db.models import Exists, Max, OuterRef

from .canonical import plain
from .chain import (
    all_attnames,
    content_hash,
    history_models,
    m2m_snapshots,
    tracked_attnames,
)
from .models import GENESIS_HASH, AuditHead, AuditRecord


class Broken(Exception):
    """The chain is broken at `record` (or at a history row, live row or checkpoint)."""

    def __init__(self, message: str, record=None):
        self.record = record
        super().__init__(message)


@dataclass
class Verified:
    records: int
    head_seq: int
    head_hash: str
    checkpoints: int = 0
    live_rows: int = 0


def verify(*, chunk_size: int = 2000, progress=None, checkpoints=(), live=True) -> Verified:
    """Walk the whole chain; return what was verified, or raise Broken at the first break.

    `checkpoints` are signature-checked `audit.checkpoints.Checkpoint`s, oldest first.
    """
    by_seq = {c.seq: c for c in checkpoints}
    checked, head_hash = _walk_chain(chunk_size, progress, by_seq)
    _check_head(checked, head_hash)
    _check_truncation(checkpoints, checked)
    _check_unrecorded_history()
    live_rows = check_live_rows(chunk_size=chunk_size) if live else 0
    return Verified(checked, checked, head_hash, len(checkpoints), live_rows)


def _walk_chain(chunk_size, progress, by_seq) -> tuple[int, str]:
    total = AuditRecord.objects.count()
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    batch: list[AuditRecord] = []
    for record in AuditRecord.objects.order_by("seq").iterator(chunk_size=chunk_size):
        _check_link(record, expected_seq, prev_hash)
        checkpoint = by_seq.get(record.seq)
        if checkpoint is not None and checkpoint.head != record.hash:
            raise Broken(
                f"{checkpoint}: the chain up to #{record.seq} hashes to {record.hash}, not to "
                "the signed head — records up to it were rewritten and re-chained",
                record,
            )
        batch.append(record)
        if len(batch) >= chunk_size:
            _check_history_rows(batch)
            batch = []
        expected_seq, prev_hash = record.seq + 1, record.hash
        checked += 1
        if progress and checked % chunk_size == 0:
            progress(checked, total)
    _check_history_rows(batch)
    return checked, prev_hash


def _check_link(record, expected_seq, prev_hash) -> None:
    if record.seq != expected_seq:
        raise Broken(
            f"audit record #{record.seq}: expected #{expected_seq} next — "
            f"record(s) #{expected_seq}..#{record.seq - 1} were deleted"
            if record.seq > expected_seq
            else f"audit record #{record.seq}: out of sequence (inserted)",
            record,
        )
    if record.prev_hash != prev_hash:
        raise Broken(
            f"audit record #{record.seq}: does not link to the previous record's hash "
            "(a record was inserted, deleted or edited before it)",
            record,
        )
    if record.compute_hash() != record.hash:
        raise Broken(f"audit record #{record.seq}: the record itself was edited", record)


def _check_history_rows(records) -> None:
    """Each record's history row exists and still hashes to the record's content_hash."""
    by_label = {m._meta.label_lower: m for m in history_models()}
    wanted: dict[str, list[int]] = {}
    for r in records:
        wanted.setdefault(r.history_model, []).append(r.history_id)
    current: dict[tuple[str, int], str] = {}
    for label, ids in wanted.items():
        model = by_label.get(label)
        if model is None:
            continue
        m2m = m2m_snapshots(model, ids)
        for values in model._default_manager.filter(pk__in=ids).values(*all_attnames(model)):
            pk = values["history_id"]
            current[(label, pk)] = content_hash(values, m2m.get(pk, {}))
    for r in records:
        found = current.get((r.history_model, r.history_id))
        where = f"history row {r.history_model} #{r.history_id} ({r.object_model} {r.object_id})"
        if found is None:
            raise Broken(f"audit record #{r.seq}: its {where} was deleted", r)
        if found != r.content_hash:
            raise Broken(f"audit record #{r.seq}: {where} was edited after it was recorded", r)


def _check_head(checked: int, last_hash: str) -> None:
    head = AuditHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if (head_seq, head_hash) != (checked, last_hash):
        raise Broken(
            f"audit chain head is at #{head_seq} but the last record is #{checked}: "
            f"record(s) after #{checked} were deleted or the head was edited"
        )


def _check_truncation(checkpoints, checked: int) -> None:
    for checkpoint in checkpoints:
        if checkpoint.seq > checked:
            raise Broken(
                f"{checkpoint}: the chain ends at #{checked}, shorter than the signed "
                f"#{checkpoint.seq} — records after #{checked} were deleted"
            )


def _check_unrecorded_history() -> None:
    for model in history_models():
        label = model._meta.label_lower
        # NOT EXISTS, an anti-join on the (history_model, history_id) index: PostgreSQL runs
        # NOT IN (subquery) as a hashed subplan only while the ids fit in work_mem; at 1,000,000
        # records it rescanned the subquery per history row and never finished.
        recorded = AuditRecord.objects.filter(history_model=label, history_id=OuterRef("pk"))
        stray = model._default_manager.filter(~Exists(recorded)).order_by("pk").first()
        if stray is not None:
            raise Broken(
                f"history row {label} #{stray.pk} has no audit record: it was inserted "
                "outside the app"
            )


def check_live_rows(*, chunk_size: int = 2000) -> int:
    """Every live row of an audited model equals its latest history row, field by field: an
    UPDATE, INSERT or DELETE made with raw SQL writes no history row and shows up here."""
    checked = 0
    for history_model in history_models():
        checked += _check_live_table(history_model, chunk_size)
        _check_deleted_live_rows(history_model, chunk_size)
    return checked


def _check_deleted_live_rows(history_model, chunk_size: int) -> None:
    """A raw DELETE leaves the object's history ending in a '+' or '~' row: the live side cannot
    see a row that is gone, so walk the history's objects (in chunks of object ids) instead."""
    live_model = history_model.instance_type
    pk = live_model._meta.pk.attname
    table = live_model._meta.db_table
    objects = (
        history_model._default_manager.values(pk).annotate(latest=Max("history_id")).order_by(pk)
    )
    last = None
    while True:
        chunk = objects.filter(**{f"{pk}__gt": last}) if last is not None else objects
        chunk = list(chunk[:chunk_size])
        if not chunk:
            return
        alive = dict(
            history_model._default_manager.filter(history_id__in=[r["latest"] for r in chunk])
            .exclude(history_type="-")
            .values_list(pk, "history_id")
        )
        present = set(
            live_model._base_manager.filter(pk__in=list(alive)).values_list("pk", flat=True)
        )
        for object_id in sorted(set(alive) - present):
            raise Broken(
                f"{table} {pk}={object_id} is gone but its latest history row "
                f"#{alive[object_id]} does not record a deletion: deleted outside the app"
            )
        last = chunk[-1][pk]


def _check_live_table(history_model, chunk_size: int) -> int:
    live_model = history_model.instance_type
    pk = live_model._meta.pk.attname
    fields = tracked_attnames(history_model)
    table = live_model._meta.db_table
    rows = live_model._base_manager.order_by(pk).values_list(*fields)
    last, checked = None, 0
    while True:
        chunk = rows.filter(**{f"{pk}__gt": last}) if last is not None else rows
        chunk = [dict(zip(fields, row, strict=True)) for row in chunk[:chunk_size]]
        if not chunk:
            return checked
        latest = _latest_history(history_model, pk, [row[pk] for row in chunk], fields)
        for row in chunk:
            _compare_live_row(table, pk, row, latest.get(row[pk]))
        checked += len(chunk)
        last = chunk[-1][pk]


def _latest_history(history_model, pk, ids, fields) -> dict:
    latest_ids = (
        history_model._default_manager.filter(**{f"{pk}__in": ids})
        .values(pk)
        .annotate(latest=Max("history_id"))
        .values_list("latest", flat=True)
    )
    found = history_model._default_manager.filter(history_id__in=list(latest_ids)).values(
        "history_id", "history_type", *fields
    )
    return {row[pk]: row for row in found}


def _compare_live_row(table, pk, row, history) -> None:
    where = f"{table} {pk}={row[pk]}"
    if history is None:
        raise Broken(f"{where} has no history row: it was inserted outside the app")
    if history["history_type"] == "-":
        raise Broken(
            f"{where} exists but its latest history row #{history['history_id']} records it "
            "deleted: it was restored outside the app"
        )
    for name, value in row.items():
        if plain(value) != plain(history[name]):
            raise Broken(
                f"{where}: field {name} is {plain(value)!r} but its latest history row "
                f"#{history['history_id']} says {plain(history[name])!r} — changed outside "
                "the app (no history row)"
            )
