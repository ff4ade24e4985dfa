"""The gateway poll at the WSGI floor: the two polled documents answered ahead of Django's chain.

Every gateway polls every few seconds, and the request cycle with its middleware was most of a
poll's cost (the view itself ~12%). `GatewayPolls` wraps Django's WSGI application and answers
`GET`/`HEAD` of the YAML and the JSON document for an `Authorization: Token …` caller itself, with
the same function the views use (`gateway_views.answer`) and the same headers the middleware adds
to those views; everything else — other paths and methods, a session cookie, no token, a host
Django would refuse, an HTTP request production redirects to HTTPS, any error — goes through
Django untouched, so it gets exactly Django's answer. tests/killswitches/test_gateway_fast_path.py
runs one set of assertions against both paths.

Connection hygiene is Django's: the connections a poll used are closed if they are obsolete or
broken at the end of the poll (`close_old_connections`, as on `request_finished`), and refusals
are logged on `django.request` like Django's.

A warm poll is answered from memory. An answer (200 or 304) is a function of the format, the
caller's roles, the policy version, `If-None-Match`, whether a browser asks, whether the request
came over HTTPS, and the settings. So each one is kept under that key once written, and
a poll whose roles and version this process's mirror already holds (`hotpath.warm_caller`: read
from the database within FRESH_SECONDS and not invalidated since) gets the same bytes again,
touching no database and no Redis. A flip moves the version and a revoked token or changed role
drops the roles, so neither can be answered from an old entry. Refusals are never kept: each
one is worked out and logged.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import setting_changed
from django.db import close_old_connections
from django.dispatch import receiver
from django.http.request import split_domain_port, validate_host

from . import gateway_views, hotpath

log = logging.getLogger("django.request")

PATHS = {
    "/gateway-policies/kill-switches.yaml": "yaml",
    "/api/v1/gateway-policy": "json",
}
STATUS = {200: "200 OK", 304: "304 Not Modified", 401: "401 Unauthorized", 403: "403 Forbidden"}
REASON = {401: "Unauthorized", 403: "Forbidden"}


@dataclass(frozen=True)
class _Conf:
    """The settings a poll reads, read once: the settings object costs an attribute lookup
    through its lazy wrapper each time (a test's settings change drops this copy)."""

    use_x_forwarded_host: bool
    allowed_hosts: list
    debug: bool
    disallowed_user_agents: list
    ssl_redirect: bool
    proxy_ssl_header: tuple | None
    added_headers: dict[bool, list[tuple[str, str]]]  # HTTPS or not -> SecurityMiddleware's


def _read_conf() -> _Conf:
    global _conf
    _conf = _Conf(
        use_x_forwarded_host=settings.USE_X_FORWARDED_HOST,
        allowed_hosts=settings.ALLOWED_HOSTS,
        debug=settings.DEBUG,
        disallowed_user_agents=settings.DISALLOWED_USER_AGENTS,
        ssl_redirect=settings.SECURE_SSL_REDIRECT,
        proxy_ssl_header=settings.SECURE_PROXY_SSL_HEADER,
        added_headers={True: _middleware_headers(True), False: _middleware_headers(False)},
    )
    return _conf


_conf: _Conf | None = None
# Hosts seen by this process, allowed or not (Django's own check, done once per Host header).
_hosts: dict[str, bool] = {}
# (format, roles, (version, token), If-None-Match, browser, HTTPS) -> (status, headers, body)
_answers: dict[tuple, tuple[str, tuple, bytes]] = {}
MAX_ANSWERS = 256  # a few formats, versions and ETags per gateway role: plenty


@receiver(setting_changed, dispatch_uid="killswitches.gateway_wsgi.settings_changed")
def _settings_changed(setting, **kwargs):
    global _conf
    _conf = None
    if setting in ("ALLOWED_HOSTS", "DEBUG", "USE_X_FORWARDED_HOST"):
        _hosts.clear()
    _answers.clear()  # the headers and the signing key come from settings too


def _host_allowed(environ, conf: _Conf) -> bool:
    """What `request.get_host()` (CommonMiddleware) decides: False where Django answers 400."""
    if conf.use_x_forwarded_host and "HTTP_X_FORWARDED_HOST" in environ:
        host = environ["HTTP_X_FORWARDED_HOST"]
    elif "HTTP_HOST" in environ:
        host = environ["HTTP_HOST"]
    else:
        return False  # Django builds one from SERVER_NAME: leave that rare case to it
    allowed = _hosts.get(host)
    if allowed is None:
        hosts = conf.allowed_hosts
        if conf.debug and not hosts:
            hosts = [".localhost", "127.0.0.1", "[::1]"]
        domain, _port = split_domain_port(host)
        allowed = bool(domain) and validate_host(domain, hosts)
        if len(_hosts) > 64:  # a client sending random Host headers does not grow this
            _hosts.clear()
        _hosts[host] = allowed
    return allowed


def _is_secure(environ, conf: _Conf) -> bool:
    """`request.is_secure()`, from the environ."""
    if conf.proxy_ssl_header:
        header, secure_value = conf.proxy_ssl_header
        value = environ.get(header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


def _middleware_headers(secure: bool) -> list[tuple[str, str]]:
    """What SecurityMiddleware adds to a machine document (the browser-only headers are left
    off by MachineDocumentMiddleware on the slow path, and never added here)."""
    added = []
    if secure and settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        added.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        added.append(("X-Content-Type-Options", "nosniff"))
    return added


def _handled(environ, conf: _Conf):
    """(format, token) when this poll is the fast path's to answer, else None."""
    fmt = PATHS.get(environ.get("PATH_INFO", ""))
    if fmt is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    key = gateway_views.token_from(environ.get("HTTP_AUTHORIZATION", ""))
    if key is None or "HTTP_COOKIE" in environ or conf.disallowed_user_agents:
        return None  # a session, or rules of Django's own: the full chain decides
    if not _host_allowed(environ, conf):
        return None
    if conf.ssl_redirect and not _is_secure(environ, conf):
        return None
    return fmt, key


class GatewayPolls:
    """WSGI application: gateway polls answered here, everything else by `django_app`."""

    def __init__(self, django_app):
        self.django_app = django_app

    def __call__(self, environ, start_response):
        conf = _conf or _read_conf()
        handled = _handled(environ, conf)
        if handled is None:
            return self.django_app(environ, start_response)
        fmt, key = handled
        if_none_match = environ.get("HTTP_IF_NONE_MATCH", "")
        accept = environ.get("HTTP_ACCEPT", "")
        secure = _is_secure(environ, conf)
        warm = hotpath.warm_caller(key)
        if warm is not None:
            found = _answers.get((fmt, *warm, if_none_match, "text/html" in accept, secure))
            if found is not None:
                start_response(found[0], list(found[1]))
                return [found[2]]
        try:
            mine, at = hotpath.token_caller(key)
            poll = gateway_views.answer(fmt, mine, at, if_none_match=if_none_match, accept=accept)
        except Exception:
            # The database or Redis failed: Django answers (its 503, its logging), as if the
            # fast path were not there.
            close_old_connections()
            return self.django_app(environ, start_response)
        close_old_connections()
        headers = list(poll.headers.items())
        headers.append(("Content-Length", str(len(poll.body))))
        headers.extend(conf.added_headers[secure])
        if poll.status >= 400:
            log.warning(
                "%s: %s",
                REASON[poll.status],
                environ["PATH_INFO"],
                extra={"status_code": poll.status, "request": None},
            )
        elif at and at[1] and poll.headers["X-Policy-Version"] == str(at[0]):
            # Only an answer for exactly the version read is kept (a database without a bump
            # yet, version 0, has no token to tell it from another).
            if len(_answers) >= MAX_ANSWERS:
                _answers.clear()
            _answers[(fmt, mine, at, if_none_match, "text/html" in accept, secure)] = (
                STATUS[poll.status],
                tuple(headers),
                poll.body,
            )
        start_response(STATUS[poll.status], headers)
        return [poll.body]
