"""Check an exercise's fallback through a real gateway (the reference gateway of `make run`, or any
gateway answering its `POST /v1/chat`), and record the answer as the exercise's evidence.

The request is built to land in the exercise's canary slice: the slice's tenant, or a user key
whose bucket (clients/spec/README.md: salt `exercise:<switch>`) falls in the slice's percentage.
The check passes when the gateway, on a policy version that contains the exercise, answers with the
expected fallback: the feature's fallback for a feature or tenant switch, the fallback model for a
model switch.
"""

import hashlib
import json
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.exceptions import ValidationError

from . import gamedays
from .models import FeatureSwitch
from .services import find_switch

WAIT_FOR_VERSION_S = 5.0


def _bucket(salt: str, key: str) -> int:
    # The spec's bucketing (clients/spec/README.md), repeated here so the server does not depend
    # on the client package; the client's spec vectors pin both to the same numbers.
    return int.from_bytes(hashlib.sha256(f"{salt}:{key}".encode()).digest()[:8], "big") % 10_000


def user_in_slice(switch_path: str, percent: float) -> str:
    threshold = int(round(percent * 100, 6))
    for n in range(1_000_000):
        key = f"game-day-probe-{n}"
        if _bucket(f"exercise:{switch_path}", key) < threshold:
            return key
    raise ValidationError("No probe key falls in the canary slice.")


def probe(exercise) -> tuple[dict, dict]:
    """(the request to send, what the answer must show)."""
    switch = find_switch(exercise.switch_path)
    layer = exercise.switch_path.split(":", 1)[0]
    canary = exercise.canary_slice
    request = {"message": f"game day probe of {exercise.switch_path}"}
    if canary.startswith("tenant:"):
        request["tenant"] = canary[len("tenant:") :]
    else:
        request["user"] = user_in_slice(exercise.switch_path, float(canary.rstrip("%")))
    if layer == "feature":
        request["feature"] = switch.feature.slug
        return request, {"served_by": "fallback", "fallback": switch.fallback}
    any_feature = FeatureSwitch.objects.select_related("feature").order_by("pk").first()
    request["feature"] = any_feature.feature.slug if any_feature else "game-day-probe"
    if layer == "tenant":
        request["tenant"] = switch.tenant.tenant_id
        fallback = any_feature.fallback if any_feature else None
        return request, {"served_by": "fallback", "fallback": fallback}
    request["model"] = switch.model.model_id
    return request, {"served_by": "model", "model": switch.fallback_model.model_id}


def _ask(url: str, request: dict) -> dict:
    http = urllib.request.Request(
        f"{url}/v1/chat", data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(http, timeout=5) as response:
        return json.loads(response.read())


def exercise_check_through_gateway(exercise, *, acting_user, gateway_url=None):
    """Ask the gateway, record pass/fail with the request and answer as evidence."""
    url = (gateway_url or settings.REFERENCE_GATEWAY_URL or "").rstrip("/")
    if not url:
        raise ValidationError("No gateway to check through: set REFERENCE_GATEWAY_URL.")
    if not exercise.is_open:
        raise ValidationError("The exercise is restored: check the fallback while it is flipped.")
    request, expected = probe(exercise)
    deadline = time.monotonic() + WAIT_FOR_VERSION_S
    while True:
        try:
            answer = _ask(url, request)
        except (OSError, ValueError) as exc:
            raise ValidationError(f"The gateway at {url} did not answer: {exc}") from exc
        # The gateway applies the exercise's version within its poll interval.
        if (answer.get("policy_version") or 0) >= exercise.flip_version:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    passed = (answer.get("policy_version") or 0) >= exercise.flip_version and all(
        answer.get(k) == v for k, v in expected.items()
    )
    evidence = (
        f"Checked through the gateway at {url}: POST /v1/chat {json.dumps(request)} → "
        f"{json.dumps(answer)[:3000]}; expected {json.dumps(expected)} on policy "
        f"v{exercise.flip_version} or later: {'pass' if passed else 'fail'}."
    )
    return gamedays.exercise_verify(
        exercise, passed=passed, evidence=evidence, acting_user=acting_user
    )
