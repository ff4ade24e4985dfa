"""The gateway poll's fast path: one Redis round trip when Redis is the cache.

Two keys are read with one MGET: the current policy version ("<version>:<token>"), and the
caller's roles keyed by a hash of the API token. On a miss, the database answers (one query for
both) and the keys are filled.

The version key only ever moves forward: it is written with a set-if-greater script, after the
commit that bumped it (and by readers filling a miss), so a late writer can never put an older
version back. Its TTL is a safety net for a writer that died between commit and publish. A
token's roles are kept for TOKEN_TTL seconds; deleting a token drops its key at once.

Without Redis (the embedded default) there is no fast path: the database is read every time.
"""

import hashlib
import logging

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db.models import Subquery
from django.db.models.signals import post_delete
from django.dispatch import receiver
from redis.exceptions import RedisError
from rest_framework.authtoken.models import Token

from .models import PolicyVersion

log = logging.getLogger(__name__)

VERSION_KEY = "killswitches:policy-version"
VERSION_TTL = 60
TOKEN_TTL = 60

_SET_IF_GREATER = """
local current = redis.call('GET', KEYS[1])
if current then
  local n = tonumber(string.match(current, '^(%d+):'))
  if n and n > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


# One client per Redis location and process: Django's cache builds a new redis.Redis (and its
# response-callback table) on every call, which was most of a warm poll's cost. The client is
# thread-safe and its connection pool reconnects after a Redis restart.
_clients: dict[str, object] = {}


def _redis():
    """(cache backend, raw client) when the default cache is Redis, else (None, None)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None, None
    location = backend._cache._servers[0]
    client = _clients.get(location)
    if client is None:
        try:
            client = _clients.setdefault(location, backend._cache.get_client(write=True))
        except RedisError:
            return None, None
    return backend, client


def _token_key(backend, key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return backend.make_and_validate_key(f"killswitches:token:{digest}")


def publish(at: tuple[int, str]) -> None:
    backend, client = _redis()
    if client is None:
        return
    try:
        client.eval(
            _SET_IF_GREATER,
            1,
            backend.make_and_validate_key(VERSION_KEY),
            at[0],
            f"{at[0]}:{at[1]}",
            VERSION_TTL,
        )
    except (RedisError, OSError) as exc:
        log.warning("policy version not published to Redis: %s", exc)


def publish_current() -> None:
    """After a bump commits: publish the version the database holds now."""
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
    backend, client = _redis()
    if client is None:
        return _from_database(key)
    token_key = _token_key(backend, key)
    try:
        cached_version, cached_roles = client.mget(
            backend.make_and_validate_key(VERSION_KEY), token_key
        )
    except (RedisError, OSError):
        return _from_database(key)
    if cached_version is not None and cached_roles is not None:
        number, _, token = cached_version.decode().partition(":")
        roles = frozenset(r for r in cached_roles.decode().split(",") if r)
        return roles, (int(number), token)
    mine, at = _from_database(key)
    if mine is None:
        return None, None
    try:
        client.set(token_key, ",".join(sorted(mine)), ex=TOKEN_TTL)
    except (RedisError, OSError):
        pass
    if cached_version is None and at[1]:
        publish(at)
    return mine, at


@receiver(post_delete, sender=Token, dispatch_uid="killswitches.hotpath.forget_token")
def forget_token(sender, instance, **kwargs):
    backend, client = _redis()
    if client is not None:
        try:
            client.delete(_token_key(backend, instance.key))
        except (RedisError, OSError):
            pass
