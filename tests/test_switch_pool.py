"""contrib/nginx/changemgmt.conf sends every kill-switch and gateway-policy URL to the switch
pool and nothing else there: checked against the URLconf, so a new switch page cannot land on
the web pool unnoticed (or a ticket page on the switch pool)."""

import re
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

CONF = Path(__file__).resolve().parent.parent / "contrib" / "nginx" / "changemgmt.conf"
LOCATION = re.compile(r"location\s+(\S+)\s*\{\s*proxy_pass\s+http://(\w+);")
SAMPLE = re.compile(r"<(?:(\w+):)?\w+>")


def locations() -> dict[str, str]:
    return dict(LOCATION.findall(CONF.read_text()))


def pool_for(path: str, routes: dict[str, str]) -> str:
    """nginx's choice among prefix locations: the longest that matches."""
    prefix = max((p for p in routes if path.startswith(p)), key=len)
    return routes[prefix]


def sample(route: str) -> str:
    return SAMPLE.sub(lambda m: "1" if m.group(1) == "int" else "x", route)


def routed_urls(patterns=None, prefix="/"):
    """(sample path, view module) of every route-style pattern of the URLconf."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue  # the admin's regexes: all under /admin/, on the web pool
        here = prefix + sample(str(entry.pattern))
        if isinstance(entry, URLResolver):
            yield from routed_urls(entry.url_patterns, here)
        elif isinstance(entry, URLPattern):
            view = getattr(entry.callback, "view_class", entry.callback)
            yield here, view.__module__


def test_the_config_names_both_pools_and_a_catch_all():
    routes = locations()
    assert set(routes.values()) == {"changemgmt_web", "changemgmt_switches"}
    assert routes["/"] == "changemgmt_web"


def test_every_kill_switch_url_goes_to_the_switch_pool_and_nothing_else_does():
    routes = locations()
    urls = list(routed_urls())
    switch_urls = [(p, m) for p, m in urls if m.startswith("changemgmt.killswitches.")]
    # the console, a flip (page and API), game days, the two polls, the ack, the public key
    assert {"/kill-switches/x/x/flip/", "/api/v1/kill-switches/x/x/flip/"} <= {
        p for p, _ in switch_urls
    }
    assert {"/api/v1/gateway-policy", "/gateway-policies/kill-switches.yaml"} <= {
        p for p, _ in switch_urls
    }
    assert len(switch_urls) >= 12
    misrouted = [
        (path, module, pool_for(path, routes))
        for path, module in urls
        if (pool_for(path, routes) == "changemgmt_switches")
        != module.startswith("changemgmt.killswitches.")
    ]
    assert misrouted == []
