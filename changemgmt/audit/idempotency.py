"""`Idempotency-Key` on API POSTs that change things (flips, ticket transitions).

The first request with a key runs and its answer is stored in the same transaction as the change;
a retry with the same key, user and endpoint gets that stored answer (header
`Idempotent-Replayed: true`) and changes nothing. The same key with a different body is refused
(422). A concurrent duplicate waits on the key's row until the first commits, then replays it.
An answer raised as an exception (a refusal) is not stored: the retry is judged afresh.
"""

import datetime
import functools
import hashlib

from django.conf import settings
from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from changemgmt import clock

from .models import IdempotentReply

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (≤ 255 printable ASCII): a retry with the same key, user and "
    "endpoint within 24 h answers the first answer (header Idempotent-Replayed: true) and changes "
    "nothing; the same key with another body answers 422.",
)


def _refusal(message: str, status: int) -> Response:
    return Response({"detail": message, "header": HEADER}, status=status)


def _key_problem(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH:
        return f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} characters."
    if not key.isascii() or not key.isprintable():
        return f"The {HEADER} header must be printable ASCII."
    return ""


def _replay(stored: IdempotentReply, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        return _refusal(f"This {HEADER} was used with a different request body.", 422)
    response = Response(stored.body, status=stored.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(handler):
    """Decorate an APIView's `post`: with the header, the first answer is the only answer."""

    @functools.wraps(handler)
    def post(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or not request.user.is_authenticated:
            return handler(view, request, *args, **kwargs)
        problem = _key_problem(key.strip())
        if problem:
            return _refusal(problem, 400)
        scope = {"user": request.user, "endpoint": request.path[:255], "key": key.strip()}
        fingerprint = hashlib.sha256(request.body).hexdigest()
        now = clock.now()
        IdempotentReply.objects.filter(user=request.user, expires_at__lte=now).delete()
        with transaction.atomic():
            try:
                with transaction.atomic():
                    reply = IdempotentReply.objects.create(
                        **scope,
                        fingerprint=fingerprint,
                        created_at=now,
                        expires_at=now + datetime.timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL),
                    )
            except IntegrityError:
                return _replay(IdempotentReply.objects.get(**scope), fingerprint)
            response = handler(view, request, *args, **kwargs)
            if response.status_code >= 500 or not isinstance(response, Response):
                reply.delete()  # not an answer worth replaying
                return response
            reply.status_code, reply.body = response.status_code, response.data
            reply.save(update_fields=["status_code", "body"])
        return response

    return post
