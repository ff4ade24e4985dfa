"""What tickets asks of the release-window rules, which live above it (windows).

The windows app registers its `WindowRules` at start-up (WindowsConfig.ready()); tickets never
imports windows. Without one (tickets alone), a slot has no end and the zone is DESIGN.md's
default.
"""

from typing import Protocol

DEFAULT_ZONE = "America/New_York"


class WindowRules(Protocol):
    def slot_end(self, ticket, planned_start): ...  # where a slot booked then ends (or None)

    def zone_name(self) -> str: ...  # the active policy's IANA zone

    def describe(self) -> str: ...  # 'Tue/Wed/Thu 10:00–16:00 America/New_York'


_rules: WindowRules | None = None


def register(rules: WindowRules) -> None:
    global _rules
    _rules = rules


def slot_end(ticket, planned_start):
    """Where a slot booked at `planned_start` ends, saved with it by the schedule transition."""
    if _rules is None or planned_start is None:
        return None
    return _rules.slot_end(ticket, planned_start)


def policy_zone() -> str:
    return _rules.zone_name() if _rules is not None else DEFAULT_ZONE


def window_text() -> str:
    """The standard window, as the ticket page names it."""
    return _rules.describe() if _rules is not None else ""
