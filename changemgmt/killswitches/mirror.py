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

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHANNEL = "__redis__:invalidate"
MAX_AGE = 1.0  # seconds an entry is trusted without a round trip, invalidations aside
RETRY_AFTER = 1.0  # seconds between attempts to (re)open the tracking connection
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
    "socket_keepalive",
    "socket_keepalive_options",
    "client_name",
}


class Mirror:
    """Keys under `prefix`, read through `client` (a redis.Redis) and kept until Redis says they
    changed. Thread-safe; one per process and Redis location (see hotpath._hot)."""

    def __init__(self, client, prefix: str):
        self._client = client
        self._prefix = prefix
        self._lock = threading.Lock()
        self._conn = None
        self._poller = None  # polls the tracking socket: cheaper than redis-py's can_read
        self.client_id = None  # the tracking connection's CLIENT ID, while it is open
        self._pid = os.getpid()
        self._retry_at = 0.0
        self._values: dict[str, tuple[bytes, float]] = {}
        # Moves on every invalidation and every lost connection: a value read from Redis is kept
        # only if nothing moved it while the read was in flight.
        self._generation = 0

    def mget(self, keys: list[str]) -> list:
        """Values of `keys` (None for a missing one), as MGET would answer. Raises RedisError."""
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

    def forget(self, key: str) -> None:
        """Drop `key` now (this process just wrote it; Redis's message follows)."""
        with self._lock:
            self._generation += 1
            self._values.pop(key, None)

    @property
    def tracking(self) -> bool:
        with self._lock:
            return self._sync()

    # ----- the tracking connection (callers hold the lock) -----

    def _sync(self) -> bool:
        """Apply the invalidations waiting on the socket; False when the copy cannot be trusted."""
        if self._pid != os.getpid():  # forked: the parent's socket is not ours
            self._conn = self._poller = self.client_id = None
            self._pid = os.getpid()
            self._lose()
        if self._conn is None and not self._open():
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

    def _open(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        pool = self._client.connection_pool
        arguments = {
            name: value
            for name, value in pool.connection_kwargs.items()
            if name in CONNECTION_ARGUMENTS or name.startswith("ssl_")
        }
        conn = None
        try:
            conn = pool.connection_class(**arguments, protocol=2)
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
            log.warning("kill-switch mirror has no tracking connection, reading Redis: %s", exc)
            if conn is not None:
                conn.disconnect()
            self._retry_at = time.monotonic() + RETRY_AFTER
            return False
        self._conn, self.client_id = conn, client_id
        sock = getattr(conn, "_sock", None)  # redis-py's socket; without it, can_read every time
        self._poller = None
        if sock is not None and hasattr(select, "poll"):
            self._poller = select.poll()
            self._poller.register(sock, select.POLLIN)
        return True

    def _apply(self, message) -> None:
        if not (isinstance(message, list) and len(message) == 3 and message[0] == b"message"):
            return
        self._generation += 1
        keys = message[2]
        if keys is None:  # FLUSHDB / FLUSHALL
            self._values.clear()
            return
        for key in keys:
            self._values.pop(key.decode() if isinstance(key, bytes) else key, None)

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
