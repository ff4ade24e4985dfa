"""The versioned gateway policy: sections, the version counter, and the stored documents.

Contract for other apps:
- `register_policy_section(name, build)`: `build()` returns a JSON-able value put under `name` in
  the JSON document (rollouts registers "ramps"). Call `policy_bump(reason)` in the transaction
  that changes what a section returns; ticket transitions that move ramps bump it already.
- `policy_bump(reason) -> int`: the next version, taken under a row lock. The document for it is
  built once after commit (or by the first reader that finds it missing) and then only served.

Serving is the hot path (every gateway polls it): read the current version (one Redis MGET with
the caller's token, see hotpath.py, or one tiny query), then serve stored bytes. The ETag is derived from that DB version, never from per-process memory, so a
flip shows in the very next request on every web process.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.dispatch import receiver

from changemgmt import clock
from changemgmt.audit.recording import loaded_under_lock
from changemgmt.tickets import transition_table
from changemgmt.tickets.services import ticket_transitioned

from . import document, signing
from .models import PolicyDocument, PolicyVersion

_sections: dict[str, Callable[[], object]] = {}

# Ticket transitions that change the active ramps in the JSON document.
RAMP_TRANSITIONS = transition_table.names(moves_ramp=True)


def register_policy_section(name: str, build: Callable[[], object]) -> None:
    if name == "version" or name.endswith("_kill_switches"):
        raise ValueError(f"policy section name {name!r} is reserved")
    _sections[name] = build


def policy_sections() -> dict[str, Callable[[], object]]:
    return dict(_sections)


def current_version() -> int:
    return _current()[0]


def _current() -> tuple[int, str]:
    found = PolicyVersion.objects.filter(pk=1).values_list("current", "token").first()
    return found or (0, "")


def _versions() -> tuple[int, int]:
    """(current version, the last version that may have changed a section)."""
    found = PolicyVersion.objects.filter(pk=1).values_list("current", "sections_at").first()
    return found or (0, 0)


@transaction.atomic(savepoint=False)  # in a caller's transaction, it is the caller's to undo
def policy_bump(reason: str, *, sections: bool = True) -> int:
    """Take the next policy version (monotonic across processes: the counter row is locked).

    `sections=False` says this change touches the switches only, no registered section: its
    document then reuses the sections of the last document built since a bump that did."""
    row = PolicyVersion.objects.select_for_update().filter(pk=1).first()
    if row is None:
        try:
            with transaction.atomic():
                PolicyVersion.objects.create(pk=1, current=0)
        except IntegrityError:
            pass
        row = PolicyVersion.objects.select_for_update().get(pk=1)
    loaded_under_lock(row)
    row.current += 1
    row.token = uuid.uuid4().hex
    row.changed_at = clock.now()
    if sections:
        row.sections_at = row.current
    row._change_reason = (reason or "policy change")[:500]
    row.save()
    transaction.on_commit(_after_bump, robust=True)
    return row.current


def _after_bump():
    from .hotpath import publish, publish_current

    seen = None
    try:
        seen = build_behind()  # a poll renders it on demand if this fails
    finally:
        if seen:
            publish(seen)
        else:
            publish_current()


def build_behind() -> tuple[int, str] | None:
    """After a bump commits: build the current document, unless a builder is at work already.

    A flip that finds the build lock taken does not queue for it (under a burst, each waiter
    held a web thread and a database connection only to find its document built by the one
    ahead): it leaves its version to the builder, who looks at the current version again once
    it has let go of the lock and builds once more if it moved. Its bump committed before it
    found the lock taken, so that second look sees it. Elsewhere than on PostgreSQL, or inside
    a caller's transaction, this is `ensure_document`.

    Returns the (version, token) of that last look, read after this caller's bump committed
    (None when it did not look): the caller publishes it without reading it again.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        ensure_document()
        return None
    while (built := _try_build()) is not None:
        seen = _current()
        if seen[0] == built.version:
            return seen
    return None


def _try_build() -> "Served | None":
    """The current document, built if missing, when the build lock is free; else None.

    The lock is taken by the snapshot's first statement, so the snapshot is as of a moment
    when nobody else was building: a bump that commits after it finds the lock taken, and this
    builder's second look (`build_behind`) sees that bump."""
    return _build_snapshot(signing.private_key(), try_lock=True)


@dataclass(frozen=True)
class Served:
    version: int
    yaml: bytes
    json: bytes
    yaml_signature: str
    json_signature: str
    key_id: str = ""

    def etag(self, fmt: str) -> str:
        return etag_for(self.version, fmt)


def etag_for(version: int, fmt: str) -> str:
    return f'"policy-v{version}-{fmt}"'


def _served(doc: PolicyDocument) -> Served:
    return Served(
        doc.version,
        doc.yaml_text.encode(),
        doc.json_text.encode(),
        doc.yaml_signature,
        doc.json_signature,
        doc.key_id,
    )


# Builders of the document queue on this PostgreSQL advisory lock ("cmpolicy"), not on the
# version counter's row: a bump never waits for a document to be rendered and signed.
BUILD_LOCK = 0x636D706F6C696379


def ensure_document() -> Served:
    """Build the document of the current version if nobody has yet; return it.

    The document for version N holds exactly the switches as of N. On PostgreSQL it is rendered
    from one REPEATABLE READ snapshot (the version and everything the document shows, read as of
    one moment; a bump commits its switch and its version together), while bumps go on: builders
    queue on an advisory lock instead of the counter row, and the next in line takes its
    snapshot only once it holds the lock, so under a burst of flips one build serves every bump
    that committed meanwhile. Elsewhere (SQLite serialises writers anyway, or inside a caller's
    transaction, where the snapshot is the caller's) the counter row is locked while building.
    A bump that committed while this built found the lock taken (`build_behind`): its document
    is built next, once the lock is let go.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return _ensure_locked()
    key = signing.private_key()  # may create the key: before the read-only snapshot
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [BUILD_LOCK])
    try:
        found = _build_snapshot(key)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [BUILD_LOCK])
    if current_version() != found.version:
        build_behind()
    return found


SNAPSHOT = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
TRY_LOCK = "SELECT pg_try_advisory_lock(%s)"


def _build_snapshot(key, *, try_lock: bool = False) -> "Served | None":
    """The current document, built from one snapshot if missing. The caller holds the build
    lock, or with `try_lock` this takes it (None when another builder has it) and lets it go."""
    locked = False
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                if try_lock:
                    locked = _snapshot_and_try_lock(cursor)
                    if not locked:
                        return None
                else:
                    cursor.execute(SNAPSHOT)
            version, sections_at = _versions()
            doc = PolicyDocument.objects.filter(version=version).first()
            built = _render(version, sections_at, key) if doc is None else None
        if built is not None:
            try:
                with transaction.atomic():
                    _no_wait_for_disk()
                    return _store(version, None, built, key, savepoint=False)
            except IntegrityError:
                # Built meanwhile by a reader inside its own transaction (`_ensure_locked`, which
                # does not take the build lock): this transaction is undone as a whole.
                doc = PolicyDocument.objects.filter(version=version).first()
                if doc is None:
                    raise
        with transaction.atomic():
            return _store(version, doc, None, key)  # re-signed if the key was rotated
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [BUILD_LOCK])


def _snapshot_and_try_lock(cursor) -> bool:
    """Begin the read-only snapshot and try the build lock in one round trip (two statements
    in one simple query, as Django's psycopg cursor binds on the client); the snapshot is then
    as of the moment the lock was taken."""
    if connection.settings_dict["OPTIONS"].get("server_side_binding"):
        cursor.execute(SNAPSHOT)
        cursor.execute(TRY_LOCK, [BUILD_LOCK])
    else:
        cursor.execute(f"{SNAPSHOT}; {TRY_LOCK}", [BUILD_LOCK])
        cursor.nextset()
    return bool(cursor.fetchone()[0])


def _no_wait_for_disk() -> None:
    """This transaction's COMMIT returns without waiting for its WAL to reach the disk (under
    load, behind other writers' flushes): the flip that called for the document answers sooner.

    Only for a document: it is derived from a version its bump committed durably. If PostgreSQL
    crashes within the WAL writer's delay, the document and its audit record are lost together
    and the chain stays whole (a later synchronous commit flushes all WAL written before it, so
    nothing after them survives without them); the next poll renders the same switches again."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


@transaction.atomic
def _ensure_locked() -> Served:
    row = PolicyVersion.objects.select_for_update().filter(pk=1).first()
    version, sections_at = (row.current, row.sections_at) if row else (0, 0)
    doc = PolicyDocument.objects.filter(version=version).first()
    key = signing.private_key()
    built = _render(version, sections_at, key) if doc is None else None
    return _store(version, doc, built, key)


# (document version, its JSON signature) -> the registered sections of that document, encoded.
# The signature tells two databases' documents of the same number apart.
_fragments: dict[tuple[int, str], str] = {}


def _sections_since(sections_at: int, version: int) -> str | None:
    """The sections as of `version`, encoded, taken from a document built since the last bump
    that could change them (a switch flip cannot): rendering them anew is most of a build once
    there are many ramps (~200 ms for 1,000). The earliest such document is the key, so every
    flip until the next such bump finds the same one, parsed once per process. None when no
    such document was built."""
    if sections_at >= version:
        return None
    first = (
        PolicyDocument.objects.filter(version__gte=sections_at, version__lt=version)
        .order_by("version")
        .values_list("version", "json_signature")
        .first()
    )
    if first is None:
        return None
    found = _fragments.get(first)
    if found is None:
        text = PolicyDocument.objects.filter(version=first[0]).values_list("json_text", flat=True)
        body = json.loads(text.get())
        if not all(name in body for name in _sections):
            return None  # built before a section was registered
        found = document.encode_sections({name: body[name] for name in _sections})
        if len(_fragments) > 8:
            _fragments.clear()
        _fragments[first] = found
    return found


def _render(version: int, sections_at: int, key) -> dict:
    found = document.switches()  # read once for both documents
    yaml_text = document.render_yaml(version, found)
    sections = _sections_since(sections_at, version)
    if sections is None:
        sections = {name: build() for name, build in _sections.items()}
    json_text = document.render_json(version, sections, found)
    return {
        "yaml_text": yaml_text,
        "json_text": json_text,
        "yaml_signature": signing.sign(yaml_text.encode(), key),
        "json_signature": signing.sign(json_text.encode(), key),
    }


def _store(
    version: int, doc: PolicyDocument | None, built: dict | None, key, *, savepoint: bool = True
) -> Served:
    """Save a rendered document (or re-sign a stored one with a rotated key); the caller's
    transaction. Without `savepoint`, a document built meanwhile raises IntegrityError and
    the caller's transaction is the one to undo (two round trips fewer)."""
    key_id = signing.key_id(key)
    if doc is None:
        try:
            with transaction.atomic(savepoint=savepoint):
                doc = PolicyDocument.objects.create(
                    version=version, key_id=key_id, built_at=clock.now(), **built
                )
        except IntegrityError:  # built meanwhile by a reader inside its own transaction
            if not savepoint:
                raise
            doc = PolicyDocument.objects.get(version=version)
    if doc.key_id != key_id:
        # The signing key was rotated: same bytes, signatures by the key gateways now trust.
        doc.yaml_signature = signing.sign(doc.yaml_text.encode(), key)
        doc.json_signature = signing.sign(doc.json_text.encode(), key)
        doc.key_id = key_id
        doc._change_reason = "re-signed with the current signing key"
        doc.save()
    return _served(doc)


# Documents never change once built, so a per-process copy keyed by the version read from the
# database is never stale. The random token of each bump keeps a recreated database (tests, a
# restore) from matching an old copy with the same number.
_memo: dict[tuple[int, str, str], Served] = {}


def current() -> tuple[int, str]:
    """(version, token) of the policy now: the one query of the hot path."""
    return _current()


def served(at: tuple[int, str] | None = None) -> Served:
    at = at or _current()
    # A configured key only changes with the settings (a restart, or a test): part of the memo key.
    memo_key = (*at, settings.GATEWAY_SIGNING_KEY)
    found = _memo.get(memo_key)
    if found is not None:
        return found
    doc = PolicyDocument.objects.filter(version=at[0]).first()
    if doc is not None and doc.key_id == signing.key_id():
        found = _served(doc)
    else:
        found = ensure_document()
    # Version 0 (nothing ever bumped) has no token to tell databases apart: never memoised.
    if found.version == at[0] and at[1]:
        if len(_memo) > 8:
            _memo.clear()
        _memo[memo_key] = found
    return found


@receiver(ticket_transitioned, dispatch_uid="killswitches.policy.bump_on_ramp_change")
def bump_on_ramp_change(sender, ticket, transition, **kwargs):
    if transition in RAMP_TRANSITIONS:
        policy_bump(f"ticket {ticket.change_id}: {transition}")
