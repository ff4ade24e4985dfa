"""Every URL pattern of changemgmt.urls, with its path arguments filled from real objects.

The walk is generic: each app adds its URLs and they are covered here without editing this file,
as long as their path arguments use one of the names in `sample_value` (a ticket `change_id`, a
feature `slug`, a kill-switch `layer`/`key`, a `transition`, …). An argument we cannot fill is
reported by `test_it_knows_how_to_fill_every_path_argument`, so a new URL never goes untested.
"""

import re
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from changemgmt.tickets.models import TRANSITIONS

# Machine-facing paths: they authenticate in the view and answer 401/403, never a login redirect.
MACHINE_PREFIXES = ("/api/", "/gateway-policies/", "/calendar.ics", "/metrics")
# Reachable without a session, on purpose.
PUBLIC_PATHS = {"/accounts/login/", "/healthz", "/bench/trivial", "/api/v1/auth/token/"}
PUBLIC_PREFIXES = ("/static/", "/gateway-policies/public-key")
# The gateway machine account may read these (and post its ack), nothing else.
GATEWAY_PATHS = (
    "/gateway-policies/kill-switches.yaml",
    "/gateway-policies/public-key",
    "/api/v1/gateway-policy",
)

ACTION_WORDS = {
    "new",
    "edit",
    "review",
    "flip",
    "plan",
    "control",
    "acknowledge",
    "reschedule",
    "exercises",
    "verify",
    "restore",
    "metrics",
    "votes",
    "ack",
    "schedule",
    "transition",
    *(name.replace("_", "-") for name in TRANSITIONS),
}

_ARG = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass
class Route:
    path: str  # filled, ready to request
    pattern: str  # as declared, for messages
    name: str
    unfilled: list[str] = field(default_factory=list)

    @property
    def is_machine(self) -> bool:
        return self.path.startswith(MACHINE_PREFIXES)

    @property
    def is_public(self) -> bool:
        return self.path in PUBLIC_PATHS or self.path.startswith(PUBLIC_PREFIXES)

    @property
    def is_metrics(self) -> bool:
        return self.path == "/metrics"

    @property
    def is_gateway_document(self) -> bool:
        return self.path.startswith(GATEWAY_PATHS)

    @property
    def is_action(self) -> bool:
        """A form or endpoint that changes something: a read-only role may be refused its GET."""
        return bool(set(self.path.strip("/").split("/")[-2:]) & ACTION_WORDS)

    @property
    def is_admin(self) -> bool:
        return self.path.startswith("/admin/")


def _walk(patterns, prefix="", names=()):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            if ns == "admin":
                # Admin internals are Django's; the index stands for the whole site.
                yield "admin/", "admin:index"
                continue
            yield from _walk(
                entry.url_patterns, prefix + _pattern_text(entry.pattern), names + (ns,)
            )
        elif isinstance(entry, URLPattern):
            name = ":".join(n for n in names + (entry.name,) if n)
            yield prefix + _pattern_text(entry.pattern), name


def _pattern_text(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return str(pattern._route)
    if isinstance(pattern, RegexPattern):
        text = pattern._regex.lstrip("^").rstrip("$").replace("\\Z", "")
        # (?P<name>...) -> <name> so it fills the same way as a route.
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", text)
        return text.replace("\\.", ".").replace("\\", "")
    return str(pattern)


def all_routes(samples: dict) -> list[Route]:
    routes = []
    seen = set()
    for pattern, name in _walk(get_resolver().url_patterns):
        if pattern in seen:
            continue
        seen.add(pattern)
        unfilled = []

        def fill(match, unfilled=unfilled, name=name):
            arg = match.group("name")
            conv = match.group("conv") or "str"
            value = sample_value(arg, conv, samples, name)
            if value is None:
                unfilled.append(arg)
                return "1" if conv == "int" else "x"
            return str(value)

        path = "/" + _ARG.sub(fill, pattern)
        if any(ch in path for ch in "()[]*+?|"):
            continue  # a regex we cannot turn into a path (none today)
        routes.append(Route(path=path, pattern=pattern, name=name, unfilled=unfilled))
    return routes


# (words in the URL name, path argument) -> sample key: the same argument name means different
# objects on different routes (a cohort's slug is not a feature's).
BY_ROUTE = [
    (("cohort",), ("slug", "pk"), "cohort"),
    (("tenant",), ("slug", "pk", "tenant_id"), "tenant"),
    (("api-model",), ("slug", "pk", "model_id"), "model"),
    (("api-feature",), ("slug", "pk"), "feature"),
    (("game-day", "reschedule", "exercise-start"), ("pk",), "game_day"),
    (("exercise-verify", "exercise-restore"), ("pk",), "exercise"),
    (("acknowledge",), ("pk",), "breach"),
    (("control",), ("name",), "control"),
]


def sample_value(arg: str, conv: str, samples: dict, route_name: str = ""):
    """A real value for a path argument, from the objects the test created."""
    key = arg.lower()
    for words, args, sample in BY_ROUTE:
        if key in args and any(w in route_name for w in words) and samples.get(sample):
            return samples[sample]
    if key in samples:
        return samples[key]
    aliases = {
        "change_id": "change_id",
        "ticket": "change_id",
        "ticket_id": "change_id",
        "slug": "feature",
        "feature": "feature",
        "feature_slug": "feature",
        "layer": "layer",
        "key": "key",
        "switch_key": "key",
        "transition": "transition",
        "name": "transition",
        "model_id": "model",
        "model": "model",
        "tenant_id": "tenant",
        "tenant": "tenant",
        "cohort": "cohort",
        "format": "format",
        "year": "year",
        "month": "month",
    }
    if key in aliases and aliases[key] in samples:
        return samples[aliases[key]]
    if key in ("pk", "id") or key.endswith("_pk") or key.endswith("_id"):
        return samples.get(key, samples.get("pk"))
    return None
