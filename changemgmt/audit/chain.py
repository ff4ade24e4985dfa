"""Building the audit record of a history row (append.py chains it; verification.py walks it).

`build_record` turns one new simple-history row into its `AuditRecord`: the row's values as stored,
their content hash, the diff against the object's previous row and the names a reader searches
by. Everything here runs before the chain lock; `append.append_record` takes it.
"""

import datetime
import functools
import hashlib
import json

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from simple_history.models import HistoricalChanges

from .canonical import canonical_json, plain
from .models import AuditRecord

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


# Field types whose value, once through the field's `to_python`, reads back from the database
# as the same canonical JSON (`plain` evens out time zones, tuples and dict keys).
_ECHOING_FIELDS = (
    models.IntegerField,  # the auto fields, the positive and big ones
    models.BooleanField,
    models.CharField,  # slugs, emails, URLs, choices
    models.TextField,
    models.DateField,  # date-times too
    models.FloatField,
    models.ForeignKey,
    models.JSONField,
)
# Set by the test suite: every row whose values are taken from memory is also read back and
# compared (and every previous row taken from a locked read), so a field type that does not echo,
# or a write that bypasses history, fails a test instead of a later verification.
CHECK_ECHO = False


def _echoed(field, value):
    """The value the database will hand back for `value` in `field`; raises _NoEcho where it
    cannot tell (a naive date-time, a float that jsonb would turn into an integer)."""
    if isinstance(field, models.JSONField):
        if value is None:
            return None
        value = json.loads(json.dumps(value, cls=field.encoder), cls=field.decoder)
        _check_json_numbers(value)
        return value
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    value = field.to_python(value)
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        raise _NoEcho
    return value


def _check_json_numbers(value):
    if isinstance(value, float) and not abs(value) < 1e15:
        raise _NoEcho  # jsonb gives 1e+16 back as an integer, and NaN not at all
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        _check_json_numbers(item)


class _NoEcho(Exception):
    pass


def _saved_values(history_instance) -> dict:
    """The history row's values as stored, without reading it back where its fields allow."""
    history_model = type(history_instance)
    fields = history_model._meta.concrete_fields
    try:
        if not all(isinstance(f, _ECHOING_FIELDS) for f in fields):
            raise _NoEcho
        values = {f.attname: _echoed(f, getattr(history_instance, f.attname)) for f in fields}
    except (_NoEcho, TypeError, ValueError, DjangoValidationError):
        return _row_values(history_model, history_instance.pk)
    if CHECK_ECHO:
        stored = _row_values(history_model, history_instance.pk)
        if canonical_json(values) != canonical_json(stored):
            raise AssertionError(
                f"{history_model._meta.label}: values in memory {plain(values)} do not read "
                f"back as stored {plain(stored)}"
            )
    return values


def _previous_values(history_model, object_attname, object_id, history_id) -> dict | None:
    return (
        history_model._default_manager.filter(
            **{object_attname: object_id}, history_id__lt=history_id
        )
        .order_by("-history_id")
        .values("history_id", *tracked_attnames(history_model))
        .first()
    )


def _loaded_values(instance, history_model, tracked) -> dict | None:
    """The values `instance` had when it was read under its row lock (`loaded_under_lock`): what
    its previous history row holds, without reading it. Taken once; None where there are none,
    or where the row's m2m snapshots are part of the diff (those need the previous row's id)."""
    loaded = getattr(instance, "_audit_loaded", None)
    if loaded is None:
        return None
    del instance._audit_loaded
    if m2m_history_models(history_model) or not all(name in loaded for name in tracked):
        return None
    return {name: loaded[name] for name in tracked}


def _check_loaded(history_model, loaded, stored, tracked) -> None:
    if loaded is None or stored is None:
        return
    stored = {name: stored[name] for name in tracked}
    if canonical_json(loaded) != canonical_json(stored):
        raise AssertionError(
            f"{history_model._meta.label}: values read under the lock {plain(loaded)} are not "
            f"the previous history row's {plain(stored)}"
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


def build_record(history_instance, instance=None) -> AuditRecord:
    """The audit record of one new history row, everything but its place in the chain (seq,
    prev_hash, hash): the expensive part, done without the chain lock.

    `instance` is the saved object the row was written for, when the caller has it (the signal
    does): its name and key are read from it rather than from an object rebuilt out of the row,
    which costs a query for a model with fields left out of its history, and one per relation
    its name shows."""
    history_model = type(history_instance)
    base_model = history_model.instance_type
    object_attname = base_model._meta.pk.attname
    values = _saved_values(history_instance)
    m2m = m2m_snapshots(history_model, [history_instance.pk]).get(history_instance.pk, {})
    tracked = {name: values[name] for name in tracked_attnames(history_model)}
    object_id = values[object_attname]
    action = values["history_type"]
    before = None
    if action == "~":
        before = _loaded_values(instance, history_model, tracked)
        if before is None or CHECK_ECHO:
            stored = _previous_values(history_model, object_attname, object_id, history_instance.pk)
            _check_loaded(history_model, before, stored, tracked)
            before = before or stored
    changes = field_diffs(action, before and {k: before[k] for k in tracked}, tracked)
    changes.update(_membership_changes(history_model, before, m2m))
    try:
        if instance is None:
            instance = history_instance.instance
        object_repr = str(instance)
    except Exception:  # a row whose related objects are gone still gets its record
        instance, object_repr = None, f"{base_model._meta.object_name} {object_id}"
    user = history_instance.history_user
    object_label = base_model._meta.label_lower
    return AuditRecord(
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
    )


def _membership_changes(history_model, before, m2m) -> dict:
    if not (m2m or (before and m2m_history_models(history_model))):
        return {}
    old_m2m = {}
    if before:
        old_m2m = m2m_snapshots(history_model, [before["history_id"]]).get(before["history_id"], {})
    old_members, new_members = _members(old_m2m), _members(m2m)
    return {
        name: [old_members.get(name, []), new_members.get(name, [])]
        for name in sorted(set(old_members) | set(new_members))
        if old_members.get(name, []) != new_members.get(name, [])
    }
