"""The documents gateways poll: YAML, JSON and the public key.

Plain Django views rather than DRF ones: this is the hot path (every gateway, every few seconds),
and for a token it is one Redis MGET (or one query without Redis), then stored bytes (see
policy.py and hotpath.py).
"""

from django.http import HttpResponse, HttpResponseNotModified, JsonResponse
from django.views.decorators.http import require_safe

from changemgmt import roles

from . import hotpath, policy, signing

READERS = frozenset(roles.ALL_ROLES)


def _caller(request):
    """(roles, (version, token)) of the caller, or (None, None) when nobody is signed in.

    A gateway's token and the policy version are read together: one Redis MGET, or one database
    query without Redis (hotpath.py). A browser session reads the version separately.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() == "token" and key.strip():
        return hotpath.token_caller(key.strip())
    if request.user.is_authenticated:
        return roles.user_roles(request.user), None
    return None, None


def _refused(mine):
    if mine is None:
        response = JsonResponse(
            {"detail": "Authentication credentials were not provided."}, status=401
        )
        response["WWW-Authenticate"] = 'Token realm="gateway-policies"'
        return response
    if not mine & READERS:
        return JsonResponse({"detail": "Your role may not read the gateway policy."}, status=403)
    return None


def _matches(request, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not header:
        return False
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def _serve(request, fmt: str):
    mine, at = _caller(request)
    refused = _refused(mine)
    if refused is not None:
        return refused
    at = at or policy.current()
    etag = policy.etag_for(at[0], fmt)
    if _matches(request, etag):
        response = HttpResponseNotModified()
    else:
        doc = policy.served(at)
        etag = doc.etag(fmt)
        if fmt == "yaml":
            body, signature, content_type = doc.yaml, doc.yaml_signature, "application/yaml"
            if "text/html" in request.META.get("HTTP_ACCEPT", ""):
                # A person in a browser reads it in the tab instead of downloading a file; the
                # bytes (and so the signature) are the same.
                content_type = "text/plain"
        else:
            body, signature, content_type = doc.json, doc.json_signature, "application/json"
        response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
        response["X-Policy-Signature"] = signature
        # Which key signed it (sha256 of the raw public key, 16 hex digits): a gateway that pins
        # two keys during a rotation picks the right one without trying both.
        response["X-Policy-Key-Id"] = doc.key_id
        at = (doc.version, at[1])
    response["ETag"] = etag
    response["X-Policy-Version"] = str(at[0])
    # Gateways must revalidate every time: a flip shows in the very next request.
    response["Cache-Control"] = "no-cache"
    response["Vary"] = "Accept, Authorization, Cookie"
    return response


@require_safe
def policy_yaml(request):
    return _serve(request, "yaml")


@require_safe
def policy_json(request):
    return _serve(request, "json")


@require_safe
def public_key(request):
    refused = _refused(_caller(request)[0])
    if refused is not None:
        return refused
    response = HttpResponse(signing.public_key_pem(), content_type="application/x-pem-file")
    response["X-Policy-Key-Id"] = signing.key_id()
    return response
