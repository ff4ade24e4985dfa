"""The sweeper's own numbers for /metrics, kept in the shared cache (Redis in production): ticks
run in whichever Celery worker took them, and the web process that answers a scrape must see all
of them, so nothing is counted in process memory."""

import time

from django.core.cache import cache

TICK_KEY = "metrics:sweeper"


def record_tick(seconds: float, *, failed: bool):
    try:
        cache.set(f"{TICK_KEY}:last_seconds", seconds, None)
        cache.set(f"{TICK_KEY}:last_at", time.time(), None)
        for name in ("ticks", "errors") if failed else ("ticks",):
            key = f"{TICK_KEY}:{name}"
            cache.add(key, 0, None)
            cache.incr(key)
    except Exception:  # noqa: BLE001 - a metric must never fail the tick it measures
        pass
