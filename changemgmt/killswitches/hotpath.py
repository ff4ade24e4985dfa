"""The gateway poll's fast path: no round trip at all when Redis is the cache and the poll is warm.

Two keys are read together: the current policy version ("<version>:<token>"), and the caller's
roles keyed by a hash of the API token. They are read through this process's mirror (mirror.py),
which answers from memory until Redis's invalidation push says a key changed, and otherwise with
one MGET. On a miss, the database answers (one query for both) and the keys are filled.

The version key only ever moves forward: it is written with a set-if-greater script, after the
commit that bumped it (and by readers filling a miss), so a late writer can never put an older
version back. Its TTL is a safety net for a writer that died between commit and publish. A
token's roles are kept for TOKEN_TTL seconds at most: deleting the token, changing its user's
groups or deactivating the user drops the key after commit, and for FORGOTTEN_TTL seconds no poll
that read the old rows may write them back. A publish that failed is retried before this process's
next poll, and the database's version is published whenever a mirror (re)starts tracking.

Whatever Redis does (an instance that cannot reach it flipped, so nothing was published; a
writer that set an old value), a process reads the database for a token at least every
FRESH_SECONDS: no poll is answered from a version or roles older than the database's by more.

Without Redis (the embedded default) there is no fast path: the database is read every time.
"""

import hashlib
import logging
import time
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models import Subquery
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from redis.exceptions import RedisError
from rest_framework.authtoken.models import Token

from .mirror import Mirror
from .models import PolicyVersion

log = logging.getLogger(__name__)
User = get_user_model()

VERSION_KEY = "killswitches:policy-version"
VERSION_TTL = 60
TOKEN_TTL = 60
# After a token's roles are dropped, a poll that read the old rows just before may not write them
# back for this long (the read and its write are milliseconds apart).
FORGOTTEN_TTL = 10
# A process trusts what Redis says of a token (its roles, the version) for this long after it
# last read that token from the database (tests/drills/test_two_instances.py).
FRESH_SECONDS = 0.9

_SET_IF_GREATER = """
local current = redis.call('GET', KEYS[1])
if current then
  local n = tonumber(string.match(current, '^(%d+):'))
  if n and n > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

_SET_UNLESS_FORGOTTEN = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


@dataclass(frozen=True)
class _Hot:
    """What a poll needs of the Redis cache, worked out once per cache backend."""

    client: object
    mirror: Mirror
    version_key: str
    token_prefix: str

    def token_key(self, key: str) -> str:
        found = _token_keys.get(key)
        if found is None:
            found = self.token_prefix + hashlib.sha256(key.encode()).hexdigest()
            if len(_token_keys) > 10_000:  # random tokens do not grow it without bound
                _token_keys.clear()
            _token_keys[key] = found
        return found


# One client and one mirror per Redis location and process: Django's cache builds a new
# redis.Redis (and its response-callback table) on every call, which was most of a warm poll's
# cost. The client is thread-safe and its connection pool reconnects after a Redis restart.
_clients: dict[str, object] = {}
_mirrors: dict[tuple[str, str], Mirror] = {}
_UNSET = object()
_current = _UNSET  # this process's _Hot (None: the cache is not Redis), until CACHES changes
# A publish from this process failed (Redis unreachable for a moment): Redis may still hold the
# version before it, so this process publishes the database's version again before its next poll.
_publish_pending = False
# Token hash -> when this process last read it from the database (time.time()).
_checked: dict[str, float] = {}
# API token -> its Redis key, and the two keys' bytes -> (roles, (version, token)): a warm poll
# neither hashes nor parses (both cleared when CACHES changes).
_token_keys: dict[str, str] = {}
_parsed: dict[tuple[bytes, bytes], tuple] = {}


def _hot() -> _Hot | None:
    """The fast path's parts when the default cache is Redis, else None."""
    global _current
    hot = _current
    if hot is _UNSET:
        hot = _build()
        if hot is not _UNSET:
            _current = hot
    return None if hot is _UNSET else hot


def _build():
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    location = backend._cache._servers[0]
    client = _clients.get(location)
    if client is None:
        try:
            client = _clients.setdefault(location, backend._cache.get_client(write=True))
        except RedisError:
            return _UNSET  # try again on the next call
    prefix = backend.make_and_validate_key("killswitches:")
    mirror = _mirrors.get((location, prefix))
    if mirror is None:
        # Whenever tracking (re)starts, Redis may have lost or kept an old version (a restart):
        # publish the database's, which only ever moves the key forward.
        mirror = _mirrors.setdefault(
            (location, prefix), Mirror(client, prefix, on_open=publish_current)
        )
    return _Hot(
        client=client,
        mirror=mirror,
        version_key=backend.make_and_validate_key(VERSION_KEY),
        token_prefix=backend.make_and_validate_key("killswitches:token:"),
    )


@receiver(setting_changed, dispatch_uid="killswitches.hotpath.caches_changed")
def _caches_changed(setting, **kwargs):
    global _current
    if setting == "CACHES":
        _current = _UNSET
        _token_keys.clear()
        _parsed.clear()
        for mirror in _mirrors.values():
            mirror.close()
        _mirrors.clear()


def publish(at: tuple[int, str]) -> None:
    global _publish_pending
    hot = _hot()
    if hot is None:
        return
    try:
        hot.client.eval(_SET_IF_GREATER, 1, hot.version_key, at[0], f"{at[0]}:{at[1]}", VERSION_TTL)
    except (RedisError, OSError) as exc:
        _publish_pending = True
        log.warning("policy version not published to Redis (retried on the next poll): %s", exc)
    else:
        _publish_pending = False
    hot.mirror.forget(hot.version_key)


def publish_current() -> None:
    """After a bump commits: publish the version the database holds now."""
    if _hot() is None:
        return  # nothing to publish to: no read
    found = PolicyVersion.objects.filter(pk=1).values_list("current", "token").first()
    if found:
        publish(found)


def _from_database(key: str):
    version = PolicyVersion.objects.filter(pk=1)
    rows = list(
        Token.objects.filter(key=key, user__is_active=True)
        .annotate(
            policy_version=Subquery(version.values("current")),
            policy_token=Subquery(version.values("token")),
        )
        .values_list("user__groups__name", "policy_version", "policy_token")
    )
    if not rows:
        return None, None
    mine = frozenset(name for name, _, _ in rows if name)
    return mine, (rows[0][1] or 0, rows[0][2] or "")


def token_caller(key: str):
    """(roles, (version, token)) for an API token, or (None, None) for an unknown one."""
    hot = _hot()
    if hot is None:
        return _from_database(key)
    if _publish_pending:
        publish_current()
    token_key = hot.token_key(key)
    try:
        cached_version, cached_roles = hot.mirror.mget([hot.version_key, token_key])
    except (RedisError, OSError):
        return _from_database(key)
    now = time.time()
    fresh = now - _checked.get(token_key, float("-inf")) < FRESH_SECONDS
    if fresh and cached_version is not None and cached_roles is not None:
        return _parse(cached_version, cached_roles)
    mine, at = _from_database(key)
    if mine is None:
        _checked.pop(token_key, None)  # unknown: the database is asked every time
        return None, None
    if len(_checked) > 10_000:  # random tokens do not grow it without bound
        _checked.clear()
    _checked[token_key] = now
    try:
        hot.client.eval(
            _SET_UNLESS_FORGOTTEN,
            2,
            token_key,
            token_key + ":forgotten",
            ",".join(sorted(mine)),
            TOKEN_TTL,
        )
    except (RedisError, OSError):
        pass
    if at[1] and (cached_version is None or not cached_version.startswith(f"{at[0]}:".encode())):
        publish(at)  # Redis lacked it or lagged behind: set it (it only ever moves forward)
    return mine, at


def warm_caller(key: str):
    """What `token_caller` would answer, from this process's memory alone, or None when only a
    round trip can tell: no Redis reachable, a token not read from the database within
    FRESH_SECONDS, a key Redis has invalidated since, or a publish still owed."""
    hot = _current
    if hot is _UNSET or hot is None or _publish_pending:
        return None
    token_key = _token_keys.get(key)
    if token_key is None:
        return None
    checked = _checked.get(token_key)
    if checked is None or time.time() - checked >= FRESH_SECONDS:
        return None
    values = hot.mirror.cached([hot.version_key, token_key])
    return None if values is None else _parse(*values)


def _parse(version: bytes, roles: bytes):
    found = _parsed.get((version, roles))
    if found is None:
        number, _, token = version.decode().partition(":")
        found = frozenset(r for r in roles.decode().split(",") if r), (int(number), token)
        if len(_parsed) > 1_000:
            _parsed.clear()
        _parsed[(version, roles)] = found
    return found


def _forget(token_keys) -> None:
    """Drop the cached roles of these API tokens from Redis and this process's mirror."""
    hot = _hot()
    if hot is None:
        return
    keys = [hot.token_key(key) for key in token_keys]
    if not keys:
        return
    try:
        with hot.client.pipeline() as pipe:
            pipe.delete(*keys)
            for key in keys:
                pipe.set(key + ":forgotten", 1, ex=FORGOTTEN_TTL)
            pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("cached token roles not dropped (they expire in %ss): %s", TOKEN_TTL, exc)
    for key in keys:
        hot.mirror.forget(key)


def _forget_users(user_ids) -> None:
    """After commit (so no poll refills the cache from the old rows): drop the users' token roles."""
    user_ids = set(user_ids or ())
    if user_ids:
        transaction.on_commit(
            lambda: _forget(
                Token.objects.filter(user_id__in=user_ids).values_list("key", flat=True)
            )
        )


@receiver(post_delete, sender=Token, dispatch_uid="killswitches.hotpath.forget_token")
def forget_token(sender, instance, **kwargs):
    """After commit: until then another poll still finds the token in the database."""
    key = instance.key
    transaction.on_commit(lambda: _forget([key]))


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="killswitches.hotpath.groups")
def forget_roles_on_group_change(sender, instance, action, reverse, pk_set, **kwargs):
    """A gateway token's roles follow its user's groups at once, not after TOKEN_TTL."""
    if not reverse and action in ("post_add", "post_remove", "post_clear"):
        _forget_users([instance.pk])
    elif reverse and action in ("post_add", "post_remove"):
        _forget_users(pk_set)
    elif reverse and action == "pre_clear":  # a group emptied: its members, before they go
        _forget_users(instance.user_set.values_list("pk", flat=True))


@receiver(post_save, sender=User, dispatch_uid="killswitches.hotpath.user_saved")
def forget_roles_on_user_change(sender, instance, created, update_fields, **kwargs):
    """A deactivated user's token stops working at once (a login's last_login update is skipped)."""
    if not created and update_fields != frozenset({"last_login"}):
        _forget_users([instance.pk])
