"""The per-process mirror of the gateway poll's Redis keys (runs when REDIS_URL is set, as in CI).

A warm read makes no round trip, yet a write by any other process shows at the very next read.
"""

import os
import subprocess
import sys
import uuid

import pytest
import redis

from changemgmt.killswitches import hotpath, mirror, policy
from changemgmt.killswitches.mirror import Mirror

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")


class CountingRedis(redis.Redis):
    """A real client that counts its MGETs (the round trips the mirror exists to save)."""

    mgets = 0
    after_mget = None  # called once the reply is in, before the mirror keeps it

    def mget(self, keys, *args):
        type(self).mgets += 1
        values = super().mget(keys, *args)
        hook = type(self).after_mget
        if hook is not None:
            hook()
        return values


@pytest.fixture
def url():
    return os.environ["REDIS_URL"]


@pytest.fixture
def prefix():
    return f"test-mirror-{uuid.uuid4().hex}:"


@pytest.fixture
def writer(url, prefix):
    client = redis.Redis.from_url(url)
    yield client
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def reader(url, prefix):
    client = CountingRedis.from_url(url)
    CountingRedis.mgets = 0
    CountingRedis.after_mget = None
    found = Mirror(client, prefix)
    assert found.tracking, "the tracking connection did not open"
    yield found
    found._close()
    client.close()


def write_from_another_process(url, *command):
    """Run one Redis command in a separate Python process (as a flip in another gunicorn worker)."""
    script = "import redis, sys; redis.Redis.from_url(sys.argv[1]).execute_command(*sys.argv[2:])"
    subprocess.run([sys.executable, "-c", script, url, *command], check=True, timeout=30)


def test_it_answers_a_warm_read_from_memory(reader, writer, prefix):
    writer.set(f"{prefix}a", "1")
    assert reader.mget([f"{prefix}a"]) == [b"1"]
    for _ in range(20):
        assert reader.mget([f"{prefix}a"]) == [b"1"]
    assert CountingRedis.mgets == 1


def test_it_shows_another_processs_write_at_the_next_read(reader, writer, url, prefix, monkeypatch):
    monkeypatch.setattr(mirror, "MAX_AGE", 3600)  # only the invalidation can drop the value
    writer.set(f"{prefix}version", "1:a")
    assert reader.mget([f"{prefix}version"]) == [b"1:a"]
    assert reader.mget([f"{prefix}version"]) == [b"1:a"]
    calls = CountingRedis.mgets
    # As a flip in another gunicorn worker publishes it: the set-if-greater script.
    write_from_another_process(
        url, "EVAL", hotpath._SET_IF_GREATER, "1", f"{prefix}version", "2", "2:b", "60"
    )
    assert reader.mget([f"{prefix}version"]) == [b"2:b"]  # no waiting: Redis pushed it first
    assert CountingRedis.mgets == calls + 1


def test_it_forgets_a_deleted_key(reader, writer, prefix):
    writer.set(f"{prefix}token", "gateway")
    assert reader.mget([f"{prefix}token"]) == [b"gateway"]
    writer.delete(f"{prefix}token")
    assert reader.mget([f"{prefix}token"]) == [None]


def test_it_keeps_no_missing_key(reader, prefix):
    for _ in range(3):
        assert reader.mget([f"{prefix}absent"]) == [None]
    assert CountingRedis.mgets == 3


def test_it_does_not_keep_a_value_that_changed_while_it_was_being_read(reader, writer, prefix):
    key = f"{prefix}version"
    writer.set(key, "1:a")
    CountingRedis.after_mget = lambda: writer.set(key, "2:b")  # lands while "1:a" is in flight
    assert reader.mget([key]) == [b"1:a"]
    CountingRedis.after_mget = None
    assert reader.mget([key]) == [b"2:b"]


def test_it_keeps_no_value_whose_invalidation_another_thread_applied_meanwhile(
    reader, writer, prefix, monkeypatch
):
    """Thread A's MGET returns "1:a"; before A keeps it, "2:b" is written and thread B's read
    applies that invalidation. A must not keep "1:a" (nothing would ever drop it again)."""
    monkeypatch.setattr(mirror, "MAX_AGE", 3600)
    key, other = f"{prefix}version", f"{prefix}other"
    writer.set(key, "1:a")

    def meanwhile():
        CountingRedis.after_mget = None
        writer.set(key, "2:b")
        reader.mget([other])  # thread B: drains the invalidation of `key`

    CountingRedis.after_mget = meanwhile
    assert reader.mget([key]) == [b"1:a"]
    assert reader.mget([key]) == [b"2:b"]


def test_it_reads_redis_while_its_tracking_connection_is_gone_and_reopens_it(
    reader, writer, prefix, monkeypatch
):
    key = f"{prefix}version"
    writer.set(key, "1:a")
    assert reader.mget([key]) == [b"1:a"]
    monkeypatch.setattr(mirror, "RETRY_AFTER", 3600)
    writer.client_kill_filter(_id=reader.client_id)
    writer.set(key, "2:b")  # no message can reach the killed connection
    assert reader.mget([key]) == [b"2:b"]
    assert not reader.tracking
    calls = CountingRedis.mgets
    assert reader.mget([key]) == [b"2:b"]
    assert CountingRedis.mgets == calls + 1, "without tracking every read must go to Redis"

    monkeypatch.setattr(mirror, "RETRY_AFTER", 0)
    reader._retry_at = 0
    assert reader.tracking
    reader.mget([key])
    write_from_another_process(os.environ["REDIS_URL"], "SET", key, "3:c")
    assert reader.mget([key]) == [b"3:c"]


def test_it_rereads_an_entry_older_than_max_age(reader, writer, prefix, monkeypatch):
    writer.set(f"{prefix}a", "1")
    monkeypatch.setattr(mirror, "MAX_AGE", 0)
    reader.mget([f"{prefix}a"])
    reader.mget([f"{prefix}a"])
    assert CountingRedis.mgets == 2


@pytest.mark.django_db
def test_a_gateway_poll_sees_a_version_published_by_another_process(
    redis_cache, redis_trusted, gateway_token, switches
):
    policy.policy_bump("x")
    roles, at = hotpath.token_caller(gateway_token)
    assert hotpath.token_caller(gateway_token) == (roles, at)  # warm: from memory
    hot = hotpath._hot()
    write_from_another_process(
        os.environ["REDIS_URL"], "SET", hot.version_key, f"{at[0] + 1}:elsewhere"
    )
    assert hotpath.token_caller(gateway_token) == (roles, (at[0] + 1, "elsewhere"))


def test_a_memory_only_read_answers_what_a_round_trip_would_or_nothing(reader, writer, prefix):
    a, b = f"{prefix}a", f"{prefix}b"
    writer.set(a, "1")
    writer.set(b, "2")
    assert reader.cached([a, b]) is None  # never read: only a round trip can tell
    assert reader.mget([a, b]) == [b"1", b"2"]
    calls = CountingRedis.mgets
    assert reader.cached([a, b]) == [b"1", b"2"]
    writer.set(b, "3")
    assert reader.cached([a, b]) is None  # invalidated: the next read goes to Redis
    assert reader.cached([a]) == [b"1"]
    assert CountingRedis.mgets == calls


def test_a_forked_child_drops_the_parents_tracking_connection_and_opens_its_own(
    reader, writer, prefix
):
    key = f"{prefix}version"
    writer.set(key, "1:a")
    assert reader.mget([key]) == [b"1:a"]
    parent_id = reader.client_id
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, then leave without running pytest's teardown
        try:
            seen = [reader.cached([key]) is None, reader.client_id is None]
            seen += [reader.tracking, reader.client_id not in (None, parent_id)]
            seen.append(reader.mget([key]) == [b"1:a"])
            os.write(write, repr(seen).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        seen = pipe.read()
    os.waitpid(pid, 0)
    assert seen == repr([True, True, True, True, True])
    assert reader.client_id == parent_id and reader.cached([key]) == [b"1:a"]
