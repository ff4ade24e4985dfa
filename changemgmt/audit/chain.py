"""Appending to the audit chain, and walking it to prove nobody wrote around the app.

`append_record` runs for every simple-history row (post_create_historical_record), in the writer's
transaction: nothing is recorded if the change rolls back, and nothing changes without a record.
"""

import functools
import hashlib

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, models, transaction
from simple_history.models import HistoricalChanges

from .canonical import canonical_json, plain
from .models import GENESIS_HASH, AuditHead, AuditRecord

HISTORY_BOOKKEEPING = {
    "history_id",
    "history_date",
    "history_change_reason",
    "history_type",
    "history_user",
    "history_relation",
}


@functools.cache
def history_models() -> tuple[type[models.Model], ...]:
    """Every simple-history model (a domain model's history), in a stable order."""
    found = [
        m
        for m in apps.get_models()
        if issubclass(m, HistoricalChanges)
        and hasattr(m, "instance_type")
        and m._meta.pk.name == "history_id"  # m2m snapshot tables have m2m_history_id
    ]
    return tuple(sorted(found, key=lambda m: m._meta.label_lower))


@functools.cache
def m2m_history_models(history_model=None) -> tuple[type[models.Model], ...]:
    """The snapshot tables of m2m fields tracked by simple-history (e.g. a team's members): the
    models whose `history` foreign key points at a history model."""
    parents = [history_model] if history_model else list(history_models())
    found = []
    for model in apps.get_models():
        if model in parents or not issubclass(model, HistoricalChanges):
            continue
        try:
            field = model._meta.get_field("history")
        except FieldDoesNotExist:
            continue
        if field.is_relation and field.related_model in parents:
            found.append(model)
    return tuple(sorted(found, key=lambda m: m._meta.label_lower))


def tracked_attnames(history_model) -> list[str]:
    return [
        f.attname for f in history_model._meta.concrete_fields if f.name not in HISTORY_BOOKKEEPING
    ]


def all_attnames(history_model) -> list[str]:
    return [f.attname for f in history_model._meta.concrete_fields]


def m2m_snapshots(history_model, history_ids) -> dict[int, dict[str, list]]:
    """{history_id: {m2m field: sorted rows}} — part of the row's content, so hashed with it."""
    result: dict[int, dict[str, list]] = {}
    for m2m_model in m2m_history_models(history_model):
        name = m2m_model._meta.label_lower
        columns = [
            f.attname
            for f in m2m_model._meta.concrete_fields
            if not f.primary_key and f.attname != "history_id"
        ]
        rows = m2m_model._default_manager.filter(history_id__in=list(history_ids)).values_list(
            "history_id", *columns
        )
        for history_id, *values in rows:
            result.setdefault(history_id, {}).setdefault(name, []).append(
                dict(zip(columns, plain(values), strict=True))
            )
    for snapshot in result.values():
        for rows in snapshot.values():
            rows.sort(key=canonical_json)
    return result


def content_hash(values: dict, m2m: dict | None = None) -> str:
    return hashlib.sha256(canonical_json({"row": values, "m2m": m2m or {}}).encode()).hexdigest()


def _row_values(history_model, history_id) -> dict:
    return history_model._default_manager.filter(pk=history_id).values(
        *all_attnames(history_model)
    )[0]


def _previous_values(history_model, object_attname, object_id, history_id) -> dict | None:
    return (
        history_model._default_manager.filter(
            **{object_attname: object_id}, history_id__lt=history_id
        )
        .order_by("-history_id")
        .values("history_id", *tracked_attnames(history_model))
        .first()
    )


def _members(snapshot: dict) -> dict[str, list]:
    """{m2m table: sorted ids of the far side} — a readable diff of a membership change."""
    members = {}
    for table, rows in snapshot.items():
        ids = []
        for row in rows:
            far = [v for k, v in row.items() if k.endswith("_id") and k not in ("id",)]
            ids.append(far[-1] if far else row)
        members[table.split(".")[-1].split("_", 1)[-1]] = sorted(ids, key=str)
    return members


def field_diffs(action: str, before: dict | None, after: dict) -> dict:
    """{field: [old, new]} against the previous history row of the same object."""
    if action == "-":
        return {}
    before = before or {}
    diffs = {}
    for name, new in after.items():
        old = before.get(name)
        if plain(old) != plain(new) and not (action == "+" and new in (None, "", [], {})):
            diffs[name] = [plain(old), plain(new)]
    return diffs


def kill_switch_key(instance) -> str:
    """`feature:<slug>` / `model:<id>` / `tenant:<id>` for the killswitches app's switches, found
    generically (a `path` attribute, or the layer from the class name and the key from the first
    key-like attribute); "" for anything else."""
    if instance is None or instance._meta.app_label != "killswitches":
        return ""
    path = getattr(instance, "path", None)
    if isinstance(path, str) and ":" in path:
        return path
    name = instance._meta.model_name
    for layer in ("feature", "model", "tenant"):
        if name.startswith(layer) and name.endswith("switch"):
            for attr in ("key", "slug", "model_id", "tenant_id", layer):
                try:
                    value = getattr(instance, attr, None)
                except Exception:  # a dangling relation in an old history row
                    value = None
                if value not in (None, "") and not isinstance(value, int):
                    return f"{layer}:{value}"
    return ""


def related_ticket_id(object_model: str, values: dict, object_id):
    if object_model == "tickets.changeticket":
        return int(object_id)
    return values.get("ticket_id")


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


def append_record(history_instance) -> AuditRecord:
    """Write the audit record of one new history row and move the chain head (in one transaction)."""
    history_model = type(history_instance)
    base_model = history_model.instance_type
    object_attname = base_model._meta.pk.attname
    values = _row_values(history_model, history_instance.pk)
    m2m = m2m_snapshots(history_model, [history_instance.pk]).get(history_instance.pk, {})
    tracked = {name: values[name] for name in tracked_attnames(history_model)}
    object_id = values[object_attname]
    action = values["history_type"]
    before = None
    if action == "~":
        before = _previous_values(history_model, object_attname, object_id, history_instance.pk)
    changes = field_diffs(action, before and {k: before[k] for k in tracked}, tracked)
    if m2m or (before and m2m_history_models(history_model)):
        old_m2m = {}
        if before:
            old_m2m = m2m_snapshots(history_model, [before["history_id"]]).get(
                before["history_id"], {}
            )
        old_members, new_members = _members(old_m2m), _members(m2m)
        for name in sorted(set(old_members) | set(new_members)):
            if old_members.get(name, []) != new_members.get(name, []):
                changes[name] = [old_members.get(name, []), new_members.get(name, [])]
    try:
        instance = history_instance.instance
        object_repr = str(instance)
    except Exception:  # a row whose related objects are gone still gets its record
        instance, object_repr = None, f"{base_model._meta.object_name} {object_id}"
    user = history_instance.history_user
    object_label = base_model._meta.label_lower
    with transaction.atomic():
        head = _lock_head()
        record = AuditRecord(
            seq=head.seq + 1,
            created_at=values["history_date"],
            history_model=history_model._meta.label_lower,
            history_id=history_instance.pk,
            object_model=object_label,
            object_id=str(object_id),
            object_repr=object_repr[:255],
            object_key=kill_switch_key(instance)[:255],
            action=action,
            actor_id=user.pk if user else None,
            actor_username=user.get_username() if user else "",
            reason=values.get("history_change_reason") or "",
            changes=changes,
            ticket_id=related_ticket_id(object_label, tracked, object_id),
            content_hash=content_hash(values, m2m),
            prev_hash=head.hash,
        )
        record.hash = record.compute_hash()
        record.save(force_insert=True)
        head.seq, head.hash = record.seq, record.hash
        head.save(update_fields=["seq", "hash"])
    return record


# ----- verification -----


class Broken(Exception):
    """The chain is broken at `record` (or at a history row with no record)."""

    def __init__(self, message: str, record=None):
        self.record = record
        super().__init__(message)


def verify(*, chunk_size: int = 2000, progress=None) -> int:
    """Walk the whole chain; return the number of records, or raise Broken at the first break.

    Checks, in chain order: seq has no gaps, each record links to the previous one, each record's
    own hash, that its history row exists and still hashes to content_hash; then that the head
    matches the last record (a deleted tail) and that no history row lacks a record (inserted).
    """
    by_label = {m._meta.label_lower: m for m in history_models()}
    total = AuditRecord.objects.count()
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    batch: list[AuditRecord] = []

    def check_batch(records):
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
            if found is None:
                raise Broken(
                    f"audit record #{r.seq}: its history row {r.history_model} "
                    f"#{r.history_id} ({r.object_model} {r.object_id}) was deleted",
                    r,
                )
            if found != r.content_hash:
                raise Broken(
                    f"audit record #{r.seq}: history row {r.history_model} #{r.history_id} "
                    f"({r.object_model} {r.object_id}) was edited after it was recorded",
                    r,
                )

    for record in AuditRecord.objects.order_by("seq").iterator(chunk_size=chunk_size):
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
        batch.append(record)
        if len(batch) >= chunk_size:
            check_batch(batch)
            batch = []
        expected_seq, prev_hash = record.seq + 1, record.hash
        checked += 1
        if progress and checked % chunk_size == 0:
            progress(checked, total)
    check_batch(batch)

    head = AuditHead.objects.filter(pk=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if (head_seq, head_hash) != (checked, prev_hash):
        raise Broken(
            f"audit chain head is at #{head_seq} but the last record is #{checked}: "
            f"record(s) after #{checked} were deleted or the head was edited"
        )

    for label, model in by_label.items():
        recorded = AuditRecord.objects.filter(history_model=label).values("history_id")
        stray = model._default_manager.exclude(pk__in=recorded).order_by("pk").first()
        if stray is not None:
            raise Broken(
                f"history row {label} #{stray.pk} has no audit record: it was inserted "
                "outside the app"
            )
    return checked
