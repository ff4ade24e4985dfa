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

    def local_short(self, at) -> str: ...  # 'Wed 2027-02-10 10:00 EST', in the policy's zone

    def booking_warnings(self, ticket, acting_user, planned_start) -> list[str]: ...


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


def booking_reason(planned_start) -> str:
    """What the record says of a booking given no reason: 'booked Wed 2027-02-10 10:00 EST'."""
    if _rules is None:
        return f"booked {planned_start.isoformat()}"
    return f"booked {_rules.local_short(planned_start)}"


def booking_warnings(ticket, acting_user, planned_start) -> list[str]:
    """What a release manager should hear before booking `ticket` at `planned_start` (someone on
    two bridges at once, the ramp's projection): warnings, never refusals."""
    if _rules is None:
        return []
    return _rules.booking_warnings(ticket, acting_user, planned_start)
