"""A Redis cache that degrades to a miss when Redis is down.

The cache only ever holds what can be rebuilt from PostgreSQL (the rendered gateway policy, page
fragments), so an outage must cost speed, never availability: pages, flips and the gateway
policy keep working while Redis restarts.
"""

import logging

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)


class TolerantRedisCache(RedisCache):
    def _tolerate(self, name, default, *args, **kwargs):
        try:
            return getattr(super(), name)(*args, **kwargs)
        except OUTAGE as exc:
            log.warning("cache %s skipped, Redis unavailable: %s", name, exc)
            return default

    def get(self, key, default=None, version=None):
        return self._tolerate("get", default, key, default, version)

    def get_many(self, keys, version=None):
        return self._tolerate("get_many", {}, keys, version)

    def set(self, key, value, timeout=None, version=None):  # noqa: A003
        return self._tolerate("set", None, key, value, timeout, version)

    def add(self, key, value, timeout=None, version=None):
        return self._tolerate("add", False, key, value, timeout, version)

    def set_many(self, data, timeout=None, version=None):
        return self._tolerate("set_many", list(data), data, timeout, version)

    def delete(self, key, version=None):
        return self._tolerate("delete", False, key, version)

    def delete_many(self, keys, version=None):
        return self._tolerate("delete_many", None, keys, version)

    def incr(self, key, delta=1, version=None):
        return self._tolerate("incr", None, key, delta, version)

    def touch(self, key, timeout=None, version=None):
        return self._tolerate("touch", False, key, timeout, version)

    def has_key(self, key, version=None):
        return self._tolerate("has_key", False, key, version)
