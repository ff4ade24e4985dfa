"""One request-level guard for input no field of ours can take: a JSON body nested deeper than
any shape we accept, a null character, or a lone UTF-16 surrogate.

Each of these used to reach code that cannot handle it and answer 500: Python's JSON parser
recursing a thousand levels, PostgreSQL refusing a NUL in a text column or a lookup, the JSON
renderer failing to encode a surrogate echoed back in an error message. Checking per field would
have to be remembered by every field, serializer and view; checking once, before routing, cannot
be forgotten. Form bodies are left to Django's forms, whose character fields already refuse NUL
with a field error (and whose decoding turns broken UTF-8 into U+FFFD, so no surrogate survives).
"""

import json
import re

from django.http import HttpResponseBadRequest, HttpResponseNotFound, JsonResponse

# Our deepest accepted document (a ticket: body → blast_radius → regions → item) is 4 levels;
# 32 leaves room for any honest client and keeps the parser far from the recursion limit.
MAX_JSON_DEPTH = 32
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# A JSON string token (with its escapes) or a bracket: strings are skipped whole, so a "[" inside
# one does not count as depth.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*+"|[\[\]{}]', re.DOTALL)
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class HostileInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info:
            # No object of ours has a NUL in its name: the honest answer is "no such thing".
            return _refuse(request, "The path contains a null character.", status=404)
        if request.method in BODY_METHODS and _is_json(request.content_type):
            problem = json_body_problem(request.body)
            if problem:
                return _refuse(request, problem)
        return self.get_response(request)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def json_body_problem(body: bytes) -> str | None:
    """Why this JSON body is refused before any view sees it, or None. A body that is not JSON
    at all is left to the parser, which answers its own 400."""
    if json_depth(body) > MAX_JSON_DEPTH:
        return f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels."
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    where = _bad_text_at(data, "body")
    if where:
        return f"{where} contains a null character or a lone UTF-16 surrogate."
    return None


def json_depth(body: bytes) -> int:
    depth = deepest = 0
    for token in _TOKENS.finditer(body):
        char = token.group()
        if char in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif char in (b"]", b"}"):
            depth -= 1
    return deepest


def _bad_text_at(value, where: str) -> str | None:
    """The path of the first string (key or value) holding a NUL or a lone surrogate."""
    if isinstance(value, str):
        return where if _BAD_TEXT.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _BAD_TEXT.search(key):
                return f"{where} key {ascii(key)}"
            found = _bad_text_at(item, f"{where}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_text_at(item, f"{where}[{index}]")
            if found:
                return found
    return None


def _refuse(request, message: str, status: int = 400):
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    response_class = HttpResponseNotFound if status == 404 else HttpResponseBadRequest
    return response_class(message, content_type="text/plain; charset=utf-8")
