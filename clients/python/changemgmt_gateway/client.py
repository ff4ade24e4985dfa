"""PolicyClient: poll, verify, apply, persist and ack the gateway policy; decide from a snapshot.

Guarantees (README "For gateway authors"):
- a document is applied only after its Ed25519 signature verifies against the pinned key, and only
  when its version is newer than the applied one (no downgrade, no replay);
- the last verified document and its signature are kept in `cache_dir`, and the client boots from
  them when the server is unreachable (fail-static);
- before any verified document exists, `decide()` raises PolicyUnavailable;
- `decide()` reads one immutable snapshot: no lock, no I/O.
"""

import json
import logging
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .decide import Decision, Snapshot
from .verify import PolicyRejected, key_id, load_public_key, verify

log = logging.getLogger("changemgmt_gateway")

POLICY_PATH = "/api/v1/gateway-policy"
ACK_PATH = "/api/v1/gateway-policy/ack"
CACHE_FILE = "changemgmt-policy.json"
MAX_BACKOFF = 30.0


class PolicyUnavailable(Exception):
    """No verified policy yet (no cache, server unreachable): the caller picks its safe default."""


class PolicyClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        public_key_pem: str | bytes,
        *,
        gateway_id: str,
        cache_dir: str | os.PathLike | None = None,
        interval: float = 1.0,
        timeout: float = 5.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.gateway_id = gateway_id
        self.interval = float(interval)
        self.timeout = timeout
        self._token = token
        self._key = load_public_key(public_key_pem)
        self.key_id = key_id(self._key)
        self._cache = Path(cache_dir) / CACHE_FILE if cache_dir else None
        self._snapshot: Snapshot | None = None
        self._etag: str | None = None
        self._acked = -1
        self._applied_at: float | None = None
        self._confirmed_at: float | None = None
        self._source: str | None = None
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._failures = 0
        self._refresh_lock = threading.Lock()  # pollers only, never the request path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._load_cache()

    # The request path -------------------------------------------------------------------------

    def decide(
        self,
        feature: str,
        *,
        tenant: str | None = None,
        user: str | None = None,
        region: str | None = None,
        segment: str | None = None,
        cohort: str | None = None,
    ) -> Decision:
        snapshot = self._snapshot  # one reference read: the snapshot itself never changes
        if snapshot is None:
            raise PolicyUnavailable(self._last_error or "no verified policy document yet")
        return snapshot.decide(
            feature, tenant=tenant, user=user, region=region, segment=segment, cohort=cohort
        )

    @property
    def snapshot(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raise PolicyUnavailable(self._last_error or "no verified policy document yet")
        return snapshot

    @property
    def version(self) -> int | None:
        snapshot = self._snapshot
        return snapshot.version if snapshot is not None else None

    # Polling ----------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """One poll. True when a newer verified version was applied. Errors are recorded in
        status() (and logged); the last good document keeps serving."""
        with self._refresh_lock:
            try:
                applied = self._poll()
            except (OSError, PolicyRejected, ValueError) as exc:
                self._record_error(exc)
                return False
            self._failures = 0
            self._ack_if_needed()
            return applied

    def _poll(self) -> bool:
        headers = {"Authorization": f"Token {self._token}", "Accept": "application/json"}
        if self._etag and self._snapshot is not None:
            headers["If-None-Match"] = self._etag
        request = urllib.request.Request(self.base_url + POLICY_PATH, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
                signature = response.headers.get("X-Policy-Signature")
                etag = response.headers.get("ETag")
                header_version = response.headers.get("X-Policy-Version")
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                self._confirmed_at = time.monotonic()
                return False
            raise OSError(f"policy poll answered HTTP {exc.code}") from exc
        applied = self._apply(body, signature, header_version=header_version, source="server")
        self._etag = etag
        self._confirmed_at = time.monotonic()
        if applied:
            self._store_cache(body, signature)
        return applied

    def _apply(self, body: bytes, signature: str | None, *, header_version=None, source) -> bool:
        verify(self._key, body, signature)  # before the body is even parsed
        try:
            document = json.loads(body)
            version = document["version"]
        except (ValueError, KeyError, TypeError) as exc:
            raise PolicyRejected("the signed document is not a policy document") from exc
        if isinstance(version, bool) or not isinstance(version, int):
            raise PolicyRejected("the policy version is not an integer")
        if header_version is not None and str(version) != header_version.strip():
            raise PolicyRejected(
                f"X-Policy-Version {header_version} does not match the signed version {version}"
            )
        current = self._snapshot
        if current is not None and version < current.version:
            raise PolicyRejected(
                f"version {version} is older than the applied version {current.version}"
            )
        if current is not None and version == current.version:
            return False
        try:
            snapshot = Snapshot(document)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PolicyRejected(f"the policy document is malformed: {exc!r}") from exc
        self._snapshot = snapshot  # the swap: requests see the old or the new, never a mix
        self._applied_at = time.time()
        self._source = source
        log.info("applied gateway policy v%s (from %s)", version, source)
        return True

    def _ack_if_needed(self) -> None:
        snapshot = self._snapshot
        if snapshot is None or snapshot.version <= self._acked:
            return
        payload = json.dumps({"gateway": self.gateway_id, "version": snapshot.version}).encode()
        request = urllib.request.Request(
            self.base_url + ACK_PATH,
            data=payload,
            method="POST",
            headers={"Authorization": f"Token {self._token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout):
                pass
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            self._record_error(OSError(f"ack of v{snapshot.version} answered {exc.code}: {detail}"))
            if exc.code == 403:
                self._acked = snapshot.version  # not ours to ack: retrying will not help
            return
        except OSError as exc:
            self._record_error(exc)
            return
        self._acked = snapshot.version

    def _record_error(self, exc: Exception) -> None:
        self._failures += 1
        self._last_error = f"{type(exc).__name__}: {exc}"
        self._last_error_at = time.time()
        log.warning("gateway policy: %s", self._last_error)

    # Fail-static cache ------------------------------------------------------------------------

    def _load_cache(self) -> None:
        if self._cache is None or not self._cache.exists():
            return
        try:
            stored = json.loads(self._cache.read_text(encoding="utf-8"))
            self._apply(stored["body"].encode(), stored["signature"], source="cache")
        except (OSError, ValueError, KeyError, TypeError, PolicyRejected) as exc:
            self._record_error(PolicyRejected(f"cache not used: {exc}"))

    def _store_cache(self, body: bytes, signature: str) -> None:
        if self._cache is None:
            return
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        stored = json.dumps({"body": body.decode(), "signature": signature})
        # Written aside and renamed: a crash mid-write never leaves a torn cache.
        fd, tmp = tempfile.mkstemp(dir=self._cache.parent, prefix=".policy-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(stored)
            os.replace(tmp, self._cache)
        except OSError as exc:
            self._record_error(exc)
            if os.path.exists(tmp):
                os.unlink(tmp)

    # Background poller and health -------------------------------------------------------------

    def start(self) -> "PolicyClient":
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="changemgmt-policy", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self._next_delay())

    def _next_delay(self) -> float:
        # Jitter spreads a fleet's polls; failures back off exponentially up to MAX_BACKOFF.
        delay = self.interval
        if self._failures:
            delay = min(MAX_BACKOFF, self.interval * 2 ** min(self._failures, 10))
        return delay * random.uniform(0.9, 1.1)

    def status(self) -> dict:
        snapshot = self._snapshot
        now = time.monotonic()
        return {
            "gateway_id": self.gateway_id,
            "version": snapshot.version if snapshot is not None else None,
            "source": self._source,
            "applied_at": self._applied_at,
            "age_seconds": (
                None if self._applied_at is None else round(time.time() - self._applied_at, 3)
            ),
            "confirmed_seconds_ago": (
                None if self._confirmed_at is None else round(now - self._confirmed_at, 3)
            ),
            "acked_version": self._acked if self._acked >= 0 else None,
            "last_error": self._last_error,
            "last_error_at": self._last_error_at,
            "polling": self._thread is not None and self._thread.is_alive(),
        }
