#!/usr/bin/env python
"""Issue 10.8: redis-py's own client-side cache (`cache_config`) against killswitches/mirror.py,
for the gateway poll's read (an MGET of the version key and the token's roles key).

    .venv/bin/python benchmarks/csc_compare.py [redis://127.0.0.1:6379/15]

Measures, in one process, the CPU time of one warm read (each way, interleaved rounds, median),
and whether a write from another connection shows in the very next read (the guarantee the
gateway poll relies on: a flip shows in the next request). Prints JSON.
"""

import json
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from redis.cache import CacheConfig  # noqa: E402

from changemgmt.killswitches.mirror import Mirror  # noqa: E402

READS = 20_000
ROUNDS = 5
WRITES = 300


def per_read_us(read, keys) -> float:
    started = time.process_time()
    for _ in range(READS):
        read(keys)
    return (time.process_time() - started) / READS * 1e6


def stale_reads(read, writer, keys) -> int:
    """Writes from another connection, each followed at once by a read: how many read old."""
    stale = 0
    for i in range(WRITES):
        writer.set(keys[0], f"{i}:t")
        if read(keys)[0] != f"{i}:t".encode():
            stale += 1
    return stale


def main(url):
    prefix = f"csc-compare-{uuid.uuid4().hex}:"
    keys = [prefix + "version", prefix + "token"]
    writer = redis.Redis.from_url(url)
    writer.set(keys[0], "1:t", ex=600)
    writer.set(keys[1], "gateway", ex=600)
    plain = redis.Redis.from_url(url)
    mirror = Mirror(redis.Redis.from_url(url), prefix)
    server = writer.info()["redis_version"]
    # redis-py refuses its cache below Redis 7.4 (Debian 12 ships 7.0): past that gate only
    # to measure it here; the app could not use it on this machine's Redis.
    gated = tuple(map(int, server.split(".")[:2])) < (7, 4)
    if gated:
        from redis.connection import CacheProxyConnection

        CacheProxyConnection.MIN_ALLOWED_VERSION = server
    csc = redis.Redis.from_url(url, protocol=3, cache_config=CacheConfig())
    ways = {
        "mirror": mirror.mget,
        "redis_py_cache": lambda k: csc.mget(k),
        "no_cache": lambda k: plain.mget(k),
    }
    for read in ways.values():
        read(keys)  # warm
    cost = {name: [] for name in ways}
    for _ in range(ROUNDS):
        for name, read in ways.items():
            cost[name].append(per_read_us(read, keys))
    results = {
        "reads_per_round": READS,
        "rounds": ROUNDS,
        "cpu_us_per_read_median": {n: round(statistics.median(v), 2) for n, v in cost.items()},
        "stale_reads_after_a_write_of_another_connection": {
            name: stale_reads(read, writer, keys) for name, read in ways.items()
        },
        "writes": WRITES,
        "redis_py": redis.__version__,
        "redis_server": server,
        "redis_py_cache_refused_by_version_gate": gated,
    }
    writer.delete(*keys)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/15")
