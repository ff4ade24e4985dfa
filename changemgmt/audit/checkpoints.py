"""Signed checkpoints of the audit chain's head, kept where the database cannot write them.

A hash chain alone proves nothing against whoever can rewrite the whole chain (a database
administrator recomputes every hash and moves the head). A checkpoint `{seq, head, time}` signed
with an Ed25519 key that the database never holds, appended to a file the database cannot write
(and optionally POSTed elsewhere), pins the chain as of then: a later rewrite or truncation no
longer matches it. Like Certificate Transparency's signed tree heads.
"""

import base64
import hashlib
import json
import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import connection, transaction

from changemgmt import clock

from .canonical import canonical_json
from .models import GENESIS_HASH, AuditHead

log = logging.getLogger(__name__)


class CheckpointError(Exception):
    """A checkpoint could not be made, or a checkpoint line does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    head: str
    time: str
    key_id: str
    signature: str = ""
    line: int = 0

    def signed_bytes(self) -> bytes:
        """Exactly what is signed: the canonical JSON of seq, head, time and key_id."""
        body = {"seq": self.seq, "head": self.head, "time": self.time, "key_id": self.key_id}
        return canonical_json(body).encode()

    def as_json(self) -> str:
        body = {"seq": self.seq, "head": self.head, "time": self.time, "key_id": self.key_id}
        return canonical_json({**body, "signature": self.signature})

    def __str__(self) -> str:
        return f"checkpoint on line {self.line} (#{self.seq} at {self.time})"


# ----- the key -----


def _key_pem() -> bytes:
    configured = (settings.AUDIT_CHECKPOINT_KEY or "").strip()
    if not configured:
        raise CheckpointError("AUDIT_CHECKPOINT_KEY is not set (a PEM value or a PEM file)")
    if configured.startswith("-----BEGIN"):
        return configured.encode()
    path = Path(configured)
    if not path.is_file():
        raise CheckpointError(
            f"AUDIT_CHECKPOINT_KEY file {path} does not exist "
            "(create one with `manage.py audit_checkpoint --create-key`)"
        )
    return path.read_bytes()


def private_key() -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(_key_pem(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError("AUDIT_CHECKPOINT_KEY must be an Ed25519 private key")
    return key


def key_id(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def create_key_file(path: Path) -> bool:
    """Write a new PEM key to `path` (mode 0600) unless one is there; True when written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return True


# ----- making one -----


def make_checkpoint() -> Checkpoint:
    """Sign the committed head of the chain as of now, once it is on disk."""
    key = private_key()
    head = AuditHead.objects.filter(pk=1).values_list("seq", "hash").first()
    flush_wal()
    seq, head_hash = head or (0, GENESIS_HASH)
    unsigned = Checkpoint(seq, head_hash, clock.now().isoformat(), key_id(key))
    signature = base64.b64encode(key.sign(unsigned.signed_bytes())).decode()
    return Checkpoint(unsigned.seq, unsigned.head, unsigned.time, unsigned.key_id, signature)


def flush_wal() -> None:
    """Wait until every commit visible now is on disk. A policy document commits without waiting
    for its WAL flush (killswitches.policy._no_wait_for_disk), so the head just read may be one a
    crash would take back: a checkpoint of it would then read as a cut chain. A transaction that
    takes an id writes a commit record, and its synchronous commit flushes the WAL up to it,
    everything committed before included."""
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = on")
        cursor.execute("SELECT pg_current_xact_id()")


def sink_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_FILE)


def append_to_sink(checkpoint: Checkpoint) -> None:
    """One line, appended (O_APPEND: never rewrites what is there) and fsync'd before returning."""
    path = sink_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (checkpoint.as_json() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def post_to_webhook(checkpoint: Checkpoint) -> None:
    url = settings.AUDIT_CHECKPOINT_WEBHOOK
    if not url:
        return
    request = urllib.request.Request(
        url,
        data=checkpoint.as_json().encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (configured URL)
        if response.status >= 300:
            raise CheckpointError(f"checkpoint webhook answered {response.status}")


def checkpoint_now() -> Checkpoint:
    """Make, store and publish one checkpoint (the file first: it must never miss one)."""
    checkpoint = make_checkpoint()
    append_to_sink(checkpoint)
    post_to_webhook(checkpoint)
    return checkpoint


# ----- reading them back -----


def parse_line(text: str, number: int) -> Checkpoint:
    try:
        data = json.loads(text)
        return Checkpoint(
            int(data["seq"]),
            str(data["head"]),
            str(data["time"]),
            str(data["key_id"]),
            str(data["signature"]),
            number,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint on line {number} is not a checkpoint: {exc}") from None


def check_signature(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> None:
    if checkpoint.key_id != key_id(key):
        raise CheckpointError(
            f"{checkpoint}: signed by key {checkpoint.key_id}, not by the checkpoint key "
            f"{key_id(key)}"
        )
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        key.public_key().verify(signature, checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        raise CheckpointError(f"{checkpoint}: the signature does not verify (forged)") from None


def read_checkpoints(path: Path | None = None) -> list[Checkpoint]:
    """Every checkpoint in the sink, oldest first, each signature verified (CheckpointError names
    the first bad line). A missing file is no checkpoints."""
    path = path or sink_path()
    if not path.exists():
        return []
    key = private_key()
    found = []
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            checkpoint = parse_line(text, number)
            check_signature(checkpoint, key)
            found.append(checkpoint)
    return found


def latest_checkpoint() -> tuple[Checkpoint | None, str]:
    """The last checkpoint in the sink and what a quick look says of it: "verified" (signature and
    the record at its seq), or why not. For pages: reads only the file's tail."""
    path = sink_path()
    try:
        with path.open("rb") as sink:
            sink.seek(0, os.SEEK_END)
            sink.seek(max(0, sink.tell() - 4096))
            tail = sink.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return None, "no checkpoint yet"
    if not tail:
        return None, "no checkpoint yet"
    try:
        checkpoint = parse_line(tail[-1], 0)
    except CheckpointError as exc:
        return None, str(exc)
    try:
        check_signature(checkpoint, private_key())
    except CheckpointError as exc:
        return checkpoint, f"NOT verified: {exc}"
    from .models import AuditRecord

    recorded = AuditRecord.objects.filter(seq=checkpoint.seq).values_list("hash", flat=True)
    if checkpoint.seq and list(recorded) != [checkpoint.head]:
        return checkpoint, "does NOT match the chain"
    return checkpoint, "verified"


def freshness() -> dict:
    """What the audit log page and the dashboard show: the latest checkpoint, whether it verified,
    and `stale` when none is younger than twice the checkpoint interval."""
    import datetime

    checkpoint, verdict = latest_checkpoint()
    stale = True
    if checkpoint is not None:
        made = datetime.datetime.fromisoformat(checkpoint.time)
        limit = datetime.timedelta(seconds=2 * settings.AUDIT_CHECKPOINT_INTERVAL)
        stale = clock.now() - made > limit
    return {
        "checkpoint": checkpoint,
        "verdict": verdict,
        "verified": verdict == "verified",
        "stale": stale,
        "interval_minutes": settings.AUDIT_CHECKPOINT_INTERVAL // 60,
    }
