"""The release-window rule for promotions, owned by the windows app.

rollouts depends on windows (DESIGN.md: windows <- rollouts); this thin seam keeps the rest of the
app readable and lets it run before windows ships its policy module: without it a promotion may
happen as soon as its bake ends.
"""

from datetime import datetime


def next_promotion_at(ticket, earliest: datetime) -> datetime:
    try:
        from changemgmt.windows.policy import next_promotion_at as rule
    except ImportError:
        return earliest
    return rule(ticket, earliest)


def promotion_hold_reason(ticket, at: datetime) -> str | None:
    try:
        from changemgmt.windows.policy import promotion_hold_reason as rule
    except ImportError:
        return None
    return rule(ticket, at)
