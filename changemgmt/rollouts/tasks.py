"""Thin Celery tasks: parse the input, call the service, declare the retry policy."""

import time
from datetime import UTC, datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from . import sweeper, tick_stats


@shared_task(
    name="changemgmt.rollouts.tasks.advance_rollouts",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=5,
)
def advance_rollouts(now: str | None = None) -> int:
    """Advance every ramping ticket (beat: every minute). `now` (ISO-8601) replays an instant."""
    at = datetime.fromisoformat(now) if now else None
    if at is not None and timezone.is_naive(at):
        at = timezone.make_aware(at, UTC)
    started = time.monotonic()
    try:
        done = sweeper.advance_all(at)
    except Exception:
        tick_stats.record_tick(time.monotonic() - started, failed=True)
        raise
    tick_stats.record_tick(time.monotonic() - started, failed=False)
    return len(done)
