"""This process's copy of the gateway poll's Redis keys, kept exact by Redis's invalidation pushes.

Every gateway polls every few seconds, and the Redis round trip was most of a warm poll's cost.
Redis can tell a client the moment a key changes (server-assisted client-side caching, `CLIENT
TRACKING`): each process opens one connection, subscribes it to `__redis__:invalidate` and asks for
a message whenever a key under our prefix is written, deleted or expires (BCAST mode, so nothing
has to be read through that connection). A read first applies the messages waiting on that socket
(one non-blocking poll, a few microseconds), then answers from memory.

Why a flip still shows in the very next request in every process: Redis queues the invalidation
to the subscribers in the event-loop turn that executes the write, before the writer has its
reply, so once the flipping process has published, committed and answered its HTTP request, the
message already sits in every subscriber's socket on this host (tests/killswitches/test_mirror.py
checks it with a writer in another process). On other hosts it is there after one network hop.

When the tracking connection is lost (Redis restarted, a network cut) the copy is dropped and every
read goes to Redis until the connection is back. Entries are also re-read after MAX_AGE seconds,
a bound on staleness should anything else go wrong. Redis 6 or later is needed; with an older one
every read goes to Redis, as before.
"""

import logging
import os
import select
import threading
import time
import weakref

from redis.exceptions import RedisError, ResponseError

log = logging.getLogger(__name__)

CHANNEL = "__redis__:invalidate"
MAX_AGE = 1.0  # seconds an entry is trusted without a round trip, invalidations aside
RETRY_AFTER = 1.0  # seconds between attempts to (re)open the tracking connection
REFUSED_RETRY_AFTER = 300.0  # ... when the server refused tracking (Redis < 6, an ACL)
# What the tracking connection takes from the cache's pool: where and how to connect, nothing of
# the pool's protocol-3 extras (it speaks RESP2 and only listens).
CONNECTION_ARGUMENTS = {
    "host",
    "port",
    "path",
    "db",
    "username",
    "password",
    "credential_provider",
    "socket_timeout",
    "socket_connect_timeout",
    "socket_keepalive_options",
    "client_name",
}


# Every mirror of this process: a forked child drops what it inherited (the parent's socket, a lock
# another thread may have held at the fork) in an at-fork hook, so no read pays for a getpid().
_all: "weakref.WeakSet[Mirror]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for mirror in list(_all):
        mirror._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


class Mirror:
    """Keys under `prefix`, read through `client` (a redis.Redis) and kept until Redis says they
    changed. Thread-safe; one per process and Redis location (see hotpath._hot)."""

    def __init__(self, client, prefix: str, *, on_open=None):
        self._client = client
        self._prefix = prefix
        self._on_open = on_open  # called (no lock held) each time tracking starts
        self._lock = threading.Lock()
        self._opening = threading.Lock()  # one thread opens; the others read Redis meanwhile
        self._conn = None
        self._poller = None  # polls the tracking socket: cheaper than redis-py's can_read
        self.client_id = None  # the tracking connection's CLIENT ID, while it is open
        self._retry_at = 0.0
        self._values: dict[str, tuple[bytes, float]] = {}
        # Moves on every invalidation and every lost connection: a value read from Redis is kept
        # only if nothing moved it while the read was in flight.
        self._generation = 0
        _all.add(self)

    def mget(self, keys: list[str]) -> list:
        """Values of `keys` (None for a missing one), as MGET would answer. Raises RedisError."""
        self._ensure_open()
        with self._lock:
            tracked = self._sync()
            if tracked:
                now = time.monotonic()
                found = [self._values.get(key) for key in keys]
                if all(entry is not None and now - entry[1] < MAX_AGE for entry in found):
                    return [entry[0] for entry in found]
            generation = self._generation
        values = self._client.mget(keys)
        with self._lock:
            if tracked and self._sync() and self._generation == generation:
                now = time.monotonic()
                for key, value in zip(keys, values, strict=True):
                    if value is not None:
                        self._values[key] = (value, now)
        return values

    def cached(self, keys: list[str]) -> list | None:
        """Values of `keys` from memory alone, or None when any is missing, too old or cannot be
        trusted: no round trip and no connection opened, only the invalidations applied."""
        with self._lock:
            if not self._sync():
                return None
            now = time.monotonic()
            values = []
            for key in keys:
                entry = self._values.get(key)
                if entry is None or now - entry[1] >= MAX_AGE:
                    return None
                values.append(entry[0])
            return values

    def forget(self, key: str) -> None:
        """Drop `key` now (this process just wrote it; Redis's message follows)."""
        with self._lock:
            self._generation += 1
            self._values.pop(key, None)

    @property
    def tracking(self) -> bool:
        self._ensure_open()
        with self._lock:
            return self._sync()

    def close(self) -> None:
        with self._lock:
            self._close()

    # ----- the tracking connection -----

    def _forked(self) -> None:
        """In a forked child: the parent's socket and locks are not ours (no thread runs yet)."""
        self._lock = threading.Lock()
        self._opening = threading.Lock()
        self._conn = self._poller = self.client_id = None
        self._retry_at = 0.0
        self._lose()

    def _ensure_open(self) -> None:
        """Open the tracking connection if it is due, without holding up the other threads: they
        read Redis (or fall back) while one thread connects, however long that takes."""
        if self._conn is not None or time.monotonic() < self._retry_at:
            return
        if not self._opening.acquire(blocking=False):
            return
        try:
            if self._conn is not None:  # opened by another thread meanwhile
                return
            opened = self._open()
            if opened is not None:
                with self._lock:
                    installed = self._conn is None
                    if installed:
                        self._conn, self.client_id, self._poller = opened
                        self._lose()  # nothing read before tracking began is trusted
                if not installed:
                    opened[0].disconnect()
                elif self._on_open is not None:
                    try:
                        self._on_open()
                    except Exception:  # a hook's failure must not fail the read
                        log.exception("kill-switch mirror: the on-open hook failed")
        finally:
            self._opening.release()

    def _sync(self) -> bool:
        """Apply the invalidations waiting on the socket; False when the copy cannot be trusted.
        The caller holds the lock."""
        if self._conn is None:
            return False
        try:
            # The loop below leaves redis-py's read buffer empty, so between two syncs a message
            # (or the connection closing) shows as the socket becoming readable.
            if self._poller is None or self._poller.poll(0):
                while self._conn.can_read(timeout=0):
                    self._apply(self._conn.read_response())
        except (RedisError, OSError) as exc:
            log.warning("kill-switch mirror lost its tracking connection: %s", exc)
            self._close()
            return False
        return True

    def _open(self):
        """(connection, client id, poller) subscribed to this prefix's invalidations, or None."""
        pool = self._client.connection_pool
        arguments = {
            name: value
            for name, value in pool.connection_kwargs.items()
            if name in CONNECTION_ARGUMENTS or name.startswith("ssl_")
        }
        conn = None
        try:
            # Keepalive: a connection dropped without a FIN (a NAT's idle timeout) is noticed.
            conn = pool.connection_class(**arguments, socket_keepalive=True, protocol=2)
            conn.connect()
            conn.send_command("CLIENT", "ID")
            client_id = conn.read_response()
            conn.send_command(
                "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", "PREFIX", self._prefix
            )
            conn.read_response()
            conn.send_command("SUBSCRIBE", CHANNEL)
            conn.read_response()
        except (RedisError, OSError) as exc:
            refused = isinstance(exc, ResponseError)  # the server said no: it will say no again
            log.warning(
                "kill-switch mirror has no tracking connection, reading Redis each time%s: %s",
                " (tracking refused; next try in 5 minutes)" if refused else "",
                exc,
            )
            if conn is not None:
                conn.disconnect()
            self._retry_at = time.monotonic() + (REFUSED_RETRY_AFTER if refused else RETRY_AFTER)
            return None
        sock = getattr(conn, "_sock", None)  # redis-py's socket; without it, can_read every time
        poller = None
        if sock is not None and hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
        return conn, client_id, poller

    def _apply(self, message) -> None:
        if not (isinstance(message, list) and len(message) == 3 and message[0] == b"message"):
            return
        self._generation += 1
        keys = message[2]
        if keys is None:  # FLUSHDB / FLUSHALL
            self._values.clear()
            return
        for key in keys:
            self._values.pop(key.decode(errors="replace") if isinstance(key, bytes) else key, None)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.disconnect()
            except (RedisError, OSError):
                pass
        self._conn = self._poller = self.client_id = None
        self._retry_at = time.monotonic() + RETRY_AFTER
        self._lose()

    def _lose(self) -> None:
        self._generation += 1
        self._values.clear()
