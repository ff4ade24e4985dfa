"""The documents gateways poll: YAML, JSON and the public key.

Plain Django views rather than DRF ones: this is the hot path (every gateway, every few seconds),
and for a token it is one Redis MGET (or one query without Redis), then stored bytes (see
policy.py and hotpath.py). What a poll answers is worked out by `answer()` as a `Poll` (status,
headers, body), which these views turn into a response and gateway_wsgi.py writes straight to
WSGI: one function decides, so the two paths cannot drift.
"""

import json
from dataclasses import dataclass, field

from django.http import HttpResponse, HttpResponseNotModified
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_safe

from changemgmt import roles

from . import hotpath, policy, signing

READERS = frozenset(roles.ALL_ROLES)

NOT_SIGNED_IN = "Authentication credentials were not provided."
NO_ROLE = "Your role may not read the gateway policy."
VARY = "Accept, Authorization, Cookie"


@dataclass
class Poll:
    """One poll's answer, before any middleware: the status, the view's own headers, the body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _refusal(mine) -> Poll | None:
    # A refusal depends on the credentials too: Vary says so, as on the documents.
    if mine is None:
        return Poll(
            401,
            {
                "Content-Type": "application/json",
                "WWW-Authenticate": 'Token realm="gateway-policies"',
                "Vary": VARY,
            },
            json.dumps({"detail": NOT_SIGNED_IN}).encode(),
        )
    if not mine & READERS:
        return Poll(
            403,
            {"Content-Type": "application/json", "Vary": VARY},
            json.dumps({"detail": NO_ROLE}).encode(),
        )
    return None


def _matches(if_none_match: str, etag: str) -> bool:
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def answer(fmt: str, mine, at, *, if_none_match: str = "", accept: str = "") -> Poll:
    """The poll's answer for a caller with roles `mine` (None: nobody signed in), who read the
    policy version `at` with its credentials (None: read it now)."""
    refused = _refusal(mine)
    if refused is not None:
        return refused
    at = at or policy.current()
    etag = policy.etag_for(at[0], fmt)
    if _matches(if_none_match, etag):
        poll = Poll(304)
    else:
        doc = policy.served(at)
        etag = doc.etag(fmt)
        if fmt == "yaml":
            body, signature, content_type = doc.yaml, doc.yaml_signature, "application/yaml"
            if "text/html" in accept:
                # A person in a browser reads it in the tab instead of downloading a file; the
                # bytes (and so the signature) are the same.
                content_type = "text/plain"
        else:
            body, signature, content_type = doc.json, doc.json_signature, "application/json"
        poll = Poll(200, {"Content-Type": f"{content_type}; charset=utf-8"}, body)
        poll.headers["X-Policy-Signature"] = signature
        # Which key signed it (sha256 of the raw public key, 16 hex digits): a gateway that pins
        # two keys during a rotation picks the right one without trying both.
        poll.headers["X-Policy-Key-Id"] = doc.key_id
        at = (doc.version, at[1])
    poll.headers["ETag"] = etag
    poll.headers["X-Policy-Version"] = str(at[0])
    # Gateways must revalidate every time: a flip shows in the very next request.
    poll.headers["Cache-Control"] = "no-cache"
    poll.headers["Vary"] = VARY
    return poll


def token_from(authorization: str) -> str | None:
    """The API token of an `Authorization: Token <key>` header, else None."""
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() == "token" and key.strip():
        return key.strip()
    return None


def _caller(request):
    """(roles, (version, token)) of the caller, or (None, None) when nobody is signed in.

    A gateway's token and the policy version are read together: one Redis MGET, or one database
    query without Redis (hotpath.py). A browser session reads the version separately.
    """
    key = token_from(request.META.get("HTTP_AUTHORIZATION", ""))
    if key is not None:
        return hotpath.token_caller(key)
    if request.user.is_authenticated:
        return roles.user_roles(request.user), None
    return None, None


def _response(poll: Poll) -> HttpResponse:
    if poll.status == 304:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(poll.body, status=poll.status)
    for name, value in poll.headers.items():
        response[name] = value
    # A machine document, never framed or navigated to: the browser-only headers
    # (changemgmt.web.middleware.MachineDocumentMiddleware) are left off, keeping a 304 small.
    response.machine_document = True
    return response


def _serve(request, fmt: str):
    mine, at = _caller(request)
    return _response(
        answer(
            fmt,
            mine,
            at,
            if_none_match=request.META.get("HTTP_IF_NONE_MATCH", ""),
            accept=request.META.get("HTTP_ACCEPT", ""),
        )
    )


@xframe_options_exempt
@require_safe
def policy_yaml(request):
    return _serve(request, "yaml")


@xframe_options_exempt
@require_safe
def policy_json(request):
    return _serve(request, "json")


@xframe_options_exempt
@require_safe
def public_key(request):
    refused = _refusal(_caller(request)[0])
    if refused is not None:
        return _response(refused)
    response = HttpResponse(signing.public_key_pem(), content_type="application/x-pem-file")
    response["X-Policy-Key-Id"] = signing.key_id()
    return response
