"""The gateway polls answered ahead of Django's chain (gateway_wsgi.py) answer like the full chain.

Every assertion here runs against both WSGI applications, called the way gunicorn calls them:
Django's own (`slow`) and the fast path (`fast`, whose Django behind it fails the test if the poll
reaches it). The byte-for-byte tests compare the two paths' whole answers, headers included.
"""

import contextlib
import io
import logging
import os
import sys

import pytest
import redis
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from rest_framework.authtoken.models import Token

from changemgmt.killswitches import gateway_views, hotpath, signing
from changemgmt.killswitches.gateway_wsgi import GatewayPolls
from changemgmt.killswitches.services import killswitch_flip
from changemgmt.wsgi import django_application

pytestmark = pytest.mark.django_db(transaction=True)

YAML_URL = "/gateway-policies/kill-switches.yaml"
JSON_URL = "/api/v1/gateway-policy"
# Set by the server per response, never by either application.
SERVER_HEADERS = {"date", "server", "connection"}


class Answer:
    def __init__(self, status, headers, body):
        self.status_line = status
        self.status = int(status.split()[0])
        self.header_list = headers
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body

    def __getitem__(self, name):
        return self.headers[name.lower()]

    def comparable(self):
        """Status, headers and body; a cookie by its name only (a fresh CSRF token each time)."""
        headers = [
            (name, value.split("=")[0] if name == "Set-Cookie" else value)
            for name, value in self.header_list
        ]
        return self.status_line, sorted(headers), self.body


def wsgi_call(app, path, *, method="GET", token=None, **headers):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Token {token}"
    environ.update({"HTTP_" + name.upper(): value for name, value in headers.items()})
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = status, response_headers

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()  # Django's request_finished, as a WSGI server does
    return Answer(started["status"], started["headers"], body)


def fell_through(environ, start_response):
    raise AssertionError(f"the fast path sent {environ['PATH_INFO']} to Django")


APPS = {"slow": django_application, "fast": GatewayPolls(fell_through)}


@pytest.fixture(params=["slow", "fast"])
def app(request):
    return APPS[request.param]


@pytest.fixture(params=["database", "redis"])
def cache_kind(request):
    if request.param == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("needs Redis (REDIS_URL)")
        request.getfixturevalue("redis_cache")
    return request.param


@pytest.fixture
def token(gateway):
    return Token.objects.create(user=gateway).key


def flip(platform_team, engaged=True):
    return killswitch_flip(
        "feature", "policy-search-v1", engaged=engaged, reason="drill", acting_user=platform_team
    )


@pytest.mark.parametrize(("url", "fmt"), [(YAML_URL, "yaml"), (JSON_URL, "json")])
def test_it_serves_the_signed_document_with_its_headers(app, cache_kind, token, switches, url, fmt):
    answer = wsgi_call(app, url, token=token)
    assert answer.status == 200
    assert answer["Content-Type"] == f"application/{fmt}; charset=utf-8"
    assert answer["ETag"] == f'"policy-v{answer["X-Policy-Version"]}-{fmt}"'
    assert answer["Cache-Control"] == "no-cache"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert answer["Content-Length"] == str(len(answer.body))
    assert signing.verify(signing.public_key_pem(), answer.body, answer["X-Policy-Signature"])
    # Browser-only headers are left off a machine document on both paths.
    assert "referrer-policy" not in answer.headers
    assert "x-frame-options" not in answer.headers
    head = wsgi_call(app, url, method="HEAD", token=token)
    assert head.status == 200 and head["ETag"] == answer["ETag"]


@pytest.mark.parametrize(
    "if_none_match",
    [
        "{etag}",
        "W/{etag}",
        '"policy-v0-json", {etag}',
        '"other",W/{etag} , "x"',
        "*",
    ],
)
def test_it_answers_304_to_every_form_of_a_matching_etag(app, token, switches, if_none_match):
    first = wsgi_call(app, JSON_URL, token=token)
    header = if_none_match.format(etag=first["ETag"])
    answer = wsgi_call(app, JSON_URL, token=token, if_none_match=header)
    assert answer.status == 304
    assert answer.body == b""
    assert answer["ETag"] == first["ETag"]
    assert answer["X-Policy-Version"] == first["X-Policy-Version"]
    assert "content-type" not in answer.headers
    # Small: gunicorn adds ~80 bytes of its own (status line, Date, Server, Connection).
    assert sum(len(n) + len(v) + 4 for n, v in answer.header_list) < 200


def test_it_answers_200_to_an_etag_of_another_version_or_format(app, token, switches):
    first = wsgi_call(app, JSON_URL, token=token)
    version = int(first["X-Policy-Version"])
    for stale in (f'"policy-v{version + 1}-json"', f'"policy-v{version}-yaml"', '"x", "y"'):
        assert wsgi_call(app, JSON_URL, token=token, if_none_match=stale).status == 200, stale


def test_it_shows_a_flip_in_the_very_next_poll(
    app, cache_kind, token, switches, platform_team, django_capture_on_commit_callbacks
):
    first = wsgi_call(app, YAML_URL, token=token)
    with django_capture_on_commit_callbacks(execute=True):
        flip(platform_team)
    after = wsgi_call(app, YAML_URL, token=token, if_none_match=first["ETag"])
    assert after.status == 200
    assert int(after["X-Policy-Version"]) == int(first["X-Policy-Version"]) + 1
    assert b"policy-search-v1:\n    enabled: false" in after.body


def test_it_serves_plain_text_to_a_browser_with_the_same_bytes(app, token, switches):
    download = wsgi_call(app, YAML_URL, token=token)
    in_tab = wsgi_call(app, YAML_URL, token=token, accept="text/html,*/*")
    assert in_tab["Content-Type"] == "text/plain; charset=utf-8"
    assert in_tab.body == download.body
    assert in_tab["X-Policy-Signature"] == download["X-Policy-Signature"]


def test_it_refuses_an_unknown_token_with_401_and_a_token_without_a_role_with_403(
    app, cache_kind, outsider, switches, caplog
):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        unknown = wsgi_call(app, JSON_URL, token="0" * 40)
    assert unknown.status == 401
    assert unknown.body == b'{"detail": "Authentication credentials were not provided."}'
    assert unknown["WWW-Authenticate"] == 'Token realm="gateway-policies"'
    assert unknown["Content-Type"] == "application/json"
    assert "x-policy-signature" not in unknown.headers
    assert [r.getMessage() for r in caplog.records] == [f"Unauthorized: {JSON_URL}"]
    caplog.clear()
    no_role = Token.objects.create(user=outsider).key
    with caplog.at_level(logging.WARNING, logger="django.request"):
        refused = wsgi_call(app, YAML_URL, token=no_role)
    assert refused.status == 403
    assert refused.body == b'{"detail": "Your role may not read the gateway policy."}'
    assert [r.getMessage() for r in caplog.records] == [f"Forbidden: {YAML_URL}"]


def test_it_refuses_a_revoked_token_and_a_deactivated_gateway_at_once(
    app, cache_kind, gateway, token, switches
):
    assert wsgi_call(app, JSON_URL, token=token).status == 200
    gateway.is_active = False
    gateway.save()
    assert wsgi_call(app, JSON_URL, token=token).status == 401
    gateway.is_active = True
    gateway.save()
    assert wsgi_call(app, JSON_URL, token=token).status == 200
    Token.objects.filter(key=token).delete()
    assert wsgi_call(app, JSON_URL, token=token).status == 401


@pytest.mark.postgres
def test_it_closes_an_obsolete_database_connection_after_the_poll(app, token, switches):
    connection.close()
    # settings.DATABASES["default"] is this very dict: keep the value to put back, not a name.
    kept = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 0  # the poll's own connection: obsolete at once
    try:
        assert wsgi_call(app, JSON_URL, token=token).status == 200
        assert connection.connection is None
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = kept


# ----- the two paths, byte for byte -----

REQUESTS = [
    (YAML_URL, {}),
    (JSON_URL, {}),
    (JSON_URL, {"method": "HEAD"}),
    (YAML_URL, {"accept": "text/html"}),
    (JSON_URL, {"if_none_match": "*"}),
    (JSON_URL, {"if_none_match": '"nothing"'}),
]


@pytest.mark.parametrize(("url", "extra"), REQUESTS)
def test_it_answers_byte_for_byte_like_the_slow_path(cache_kind, token, switches, url, extra):
    slow = wsgi_call(django_application, url, token=token, **extra)
    fast = wsgi_call(APPS["fast"], url, token=token, **extra)
    assert fast.comparable() == slow.comparable()


@pytest.mark.parametrize(
    "caller",
    ["revoked", "no role", "unknown"],
)
def test_it_gives_a_refused_gateway_exactly_the_slow_paths_answer(
    cache_kind, gateway, outsider, switches, caller
):
    if caller == "revoked":
        token = Token.objects.create(user=gateway).key
        Token.objects.filter(key=token).delete()
    elif caller == "no role":
        token = Token.objects.create(user=outsider).key
    else:
        token = "not-a-token"
    for url in (YAML_URL, JSON_URL):
        slow = wsgi_call(django_application, url, token=token)
        fast = wsgi_call(APPS["fast"], url, token=token)
        assert slow.status in (401, 403)
        assert fast.comparable() == slow.comparable()


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        (JSON_URL, {}),  # no token at all
        (JSON_URL, {"authorization": "Bearer abc"}),
        (JSON_URL, {"authorization": "Token "}),
        (YAML_URL, {"method": "POST"}),
        (JSON_URL, {"host": "evil.example"}),
        ("/api/v1/gateway-policy/ack", {}),
        ("/gateway-policies/public-key", {}),
    ],
)
def test_it_leaves_everything_else_to_django_with_its_answer(switches, url, extra):
    through = GatewayPolls(django_application)
    slow = wsgi_call(django_application, url, **extra)
    fast = wsgi_call(through, url, **extra)
    assert fast.comparable() == slow.comparable()
    assert slow.status != 200


def test_it_leaves_a_session_to_django(client, auditor, switches):
    client.force_login(auditor)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    wsgi_call(django_application, YAML_URL, cookie=cookie)  # the session's first request saves it
    slow = wsgi_call(django_application, YAML_URL, cookie=cookie)
    fast = wsgi_call(GatewayPolls(django_application), YAML_URL, cookie=cookie)
    assert slow.status == 200
    assert fast.comparable() == slow.comparable()
    with pytest.raises(AssertionError, match="sent /gateway-policies/kill-switches.yaml"):
        wsgi_call(APPS["fast"], YAML_URL, cookie=cookie)


def test_it_leaves_an_http_poll_to_django_where_production_redirects_to_https(
    token, switches, settings
):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    django_app = WSGIHandler()  # SecurityMiddleware reads its settings once, when built
    slow = wsgi_call(django_app, JSON_URL, token=token)
    fast = wsgi_call(GatewayPolls(django_app), JSON_URL, token=token)
    assert slow.status == 301
    assert fast.comparable() == slow.comparable()
    secure = {"x_forwarded_proto": "https"}
    slow = wsgi_call(django_app, JSON_URL, token=token, **secure)
    fast = wsgi_call(GatewayPolls(fell_through), JSON_URL, token=token, **secure)
    assert slow.status == 200
    assert fast["Strict-Transport-Security"] == "max-age=3600"
    assert fast.comparable() == slow.comparable()


def test_it_lets_django_answer_when_the_fast_path_fails(token, switches, monkeypatch):
    from changemgmt.killswitches import hotpath

    def broken(key):
        raise RuntimeError("database gone")

    seen = []

    def django_app(environ, start_response):
        seen.append(environ["PATH_INFO"])
        start_response("503 Service Unavailable", [("Retry-After", "5")])
        return [b"{}"]

    monkeypatch.setattr(hotpath, "token_caller", broken)
    answer = wsgi_call(GatewayPolls(django_app), JSON_URL, token=token)
    assert answer.status == 503 and seen == [JSON_URL]


# ----- a warm poll, from memory -----


@pytest.fixture
def warm_redis(request, platform_team, switches, django_capture_on_commit_callbacks):
    """Redis as the cache (only a Redis mirror answers from memory), and a policy version with
    its token (version 0 has none to key on)."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis (REDIS_URL)")
    request.getfixturevalue("redis_cache")
    with django_capture_on_commit_callbacks(execute=True):
        flip(platform_team)


def poll_until_warm(token, **extra):
    """Polls until this process holds the token's roles and the answer; a few polls at most."""
    for _ in range(5):
        answer = wsgi_call(APPS["fast"], JSON_URL, token=token, **extra)
        if hotpath.warm_caller(token) is not None:
            again = wsgi_call(APPS["fast"], JSON_URL, token=token, **extra)
            assert again.comparable() == answer.comparable()
            return again
    raise AssertionError("five polls and the mirror still holds neither roles nor version")


@pytest.fixture
def no_round_trip(monkeypatch, django_assert_num_queries):
    """Inside it, any query, Redis command or freshly worked-out answer fails the poll."""

    def refused(*args, **kwargs):
        raise AssertionError("a warm poll made a round trip")

    @contextlib.contextmanager
    def watched():
        with monkeypatch.context() as patch:
            patch.setattr(redis.Redis, "execute_command", refused)
            patch.setattr(gateway_views, "answer", refused)
            with django_assert_num_queries(0):
                yield

    return watched


@pytest.mark.parametrize("if_none_match", ["", "{etag}"])
def test_a_warm_poll_is_answered_from_memory_with_the_same_bytes(
    warm_redis, token, no_round_trip, if_none_match
):
    etag = wsgi_call(APPS["fast"], JSON_URL, token=token)["ETag"]
    header = {"if_none_match": if_none_match.format(etag=etag)} if if_none_match else {}
    first = poll_until_warm(token, **header)
    with no_round_trip():
        warm = wsgi_call(APPS["fast"], JSON_URL, token=token, **header)
    assert warm.status == (304 if if_none_match else 200)
    assert warm.comparable() == first.comparable()
    assert (
        warm.comparable()
        == wsgi_call(django_application, JSON_URL, token=token, **header).comparable()
    )


def test_a_warm_poll_shows_a_flip_in_the_very_next_poll(
    warm_redis, token, platform_team, django_capture_on_commit_callbacks
):
    before = poll_until_warm(token)
    with django_capture_on_commit_callbacks(execute=True):
        flip(platform_team, engaged=False)
    after = wsgi_call(APPS["fast"], JSON_URL, token=token, if_none_match=before["ETag"])
    assert after.status == 200
    assert int(after["X-Policy-Version"]) == int(before["X-Policy-Version"]) + 1
    assert after.comparable() == wsgi_call(django_application, JSON_URL, token=token).comparable()


@pytest.mark.parametrize("change", ["token deleted", "user deactivated", "role removed"])
def test_a_warm_poll_is_refused_in_the_very_next_poll_once_its_token_may_not_read(
    warm_redis, gateway, token, change, django_capture_on_commit_callbacks
):
    poll_until_warm(token)
    with django_capture_on_commit_callbacks(execute=True):
        if change == "token deleted":
            Token.objects.filter(key=token).delete()
        elif change == "user deactivated":
            gateway.is_active = False
            gateway.save()
        else:
            gateway.groups.clear()
    fast = wsgi_call(APPS["fast"], JSON_URL, token=token)
    assert fast.status == (403 if change == "role removed" else 401)
    assert fast.comparable() == wsgi_call(django_application, JSON_URL, token=token).comparable()


def test_a_warm_answer_is_not_reused_once_the_settings_change(warm_redis, token, settings):
    assert (
        "strict-transport-security" not in poll_until_warm(token, x_forwarded_proto="https").headers
    )
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 60
    answer = wsgi_call(APPS["fast"], JSON_URL, token=token, x_forwarded_proto="https")
    assert answer["Strict-Transport-Security"] == "max-age=60"
