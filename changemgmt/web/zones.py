"""The two zones a page shows times in: the viewer's (from the browser) and the window policy's."""

import functools
import zoneinfo
from urllib.parse import unquote

DEFAULT_POLICY_ZONE = "America/New_York"


@functools.cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def policy_zone() -> zoneinfo.ZoneInfo:
    try:
        from changemgmt.windows.policy import current_policy

        return current_policy().zone
    except Exception:  # no policy table yet (a fresh database before migrate)
        return zoneinfo.ZoneInfo(DEFAULT_POLICY_ZONE)


def viewer_zone(request, default: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    name = unquote(request.COOKIES.get("tz", ""))
    # Only real zone names: ZoneInfo() of a directory ("America") raises IsADirectoryError.
    return zoneinfo.ZoneInfo(name) if name in known_zones() else default
