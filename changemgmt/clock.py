"""The one clock the domain reads.

Everything that asks "what time is it?" for a rule (windows, bakes, expiries, game days) calls
`clock.now()`. Tests move it with time-machine; `advance_rollouts --now` evaluates as of a past or
future instant by overriding it for the duration of one sweep.
"""

import contextlib
import contextvars
from datetime import datetime

from django.utils import timezone

_override: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "changemgmt_clock_override", default=None
)


def now() -> datetime:
    return _override.get() or timezone.now()


@contextlib.contextmanager
def frozen_at(instant: datetime):
    """Evaluate everything inside the block as of `instant` (must be aware)."""
    if timezone.is_naive(instant):
        raise ValueError("frozen_at needs an aware datetime")
    token = _override.set(instant)
    try:
        yield instant
    finally:
        _override.reset(token)
