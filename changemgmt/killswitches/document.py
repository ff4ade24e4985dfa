"""The gateway policy document: the article's `gateway-policies/kill-switches.yaml`, and the JSON
twin gateways read from the API (the same switches, plus the registered sections such as ramps).

The YAML is written by hand rather than by yaml.dump so it keeps the article's exact text: two-space
indentation, the comment on the model list, a quoted reason and a bare expiry date.
"""

import json
import re

from .models import FeatureSwitch, ModelSwitch, TenantSwitch

HEADER = "# gateway-policies/kill-switches.yaml"
# The served YAML names its version inside the signed bytes, so an old signed copy cannot be
# replayed as the current one. A comment keeps the article's shape (YAML readers skip it); the
# exported file for editing and import has no version line.
VERSION_COMMENT = "# policy-version: {version}"
MODEL_COMMENT = "# Set to true to immediately stop new traffic to this model"

# A scalar YAML reads back as the same string without quotes (and not as a bool, null or number).
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9._/-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: str) -> str:
    if _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return _quoted(value)


def _quoted(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(value)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def switches():
    features = FeatureSwitch.objects.select_related("feature").order_by("pk")
    models = ModelSwitch.objects.select_related("model", "fallback_model").order_by("pk")
    tenants = TenantSwitch.objects.select_related("tenant").order_by("pk")
    return list(features), list(models), list(tenants)


def render_yaml(version: int | None = None, found=None) -> str:
    """The YAML document; `found` is what `switches()` returned, when the caller has it."""
    features, models, tenants = found or switches()
    lines = [HEADER]
    if version is not None:
        lines.append(VERSION_COMMENT.format(version=version))
    lines.append("feature_kill_switches:" + ("" if features else " {}"))
    for s in features:
        lines += [
            f"  {_scalar(s.feature.slug)}:",
            f"    enabled: {_bool(s.enabled)}",
            f"    fallback: {_scalar(s.fallback)}",
        ]
    lines.append("model_kill_switches:" + ("" if models else " []"))
    if models:
        lines.append(f"  {MODEL_COMMENT}")
    for s in models:
        lines += [
            f"  - model: {_scalar(s.model.model_id)}",
            f"    disabled: {_bool(s.disabled)}",
            f"    fallback_model: {_scalar(s.fallback_model.model_id)}",
        ]
    lines.append("tenant_kill_switches:" + ("" if tenants else " {}"))
    for s in tenants:
        lines += [
            f"  {_scalar(s.tenant.tenant_id)}:",
            f"    ai_disabled: {_bool(s.ai_disabled)}",
            f"    reason: {_quoted(s.reason)}",
            f"    expires: {s.expires.isoformat() if s.expires else 'null'}",
        ]
    return "\n".join(lines) + "\n"


def _lifted_at(expires, zone) -> str | None:
    """The instant the switch counts as lifted: the end of its expiry day in the release policy's
    time zone `zone` (services.policy_today), in UTC. Gateways need the instant, not the day, to
    agree with the server's sweeper when they apply the expiry themselves."""
    if expires is None:
        return None
    from datetime import UTC, datetime, time, timedelta

    end = datetime.combine(expires + timedelta(days=1), time(0), tzinfo=zone)
    return end.astimezone(UTC).isoformat()


def _policy_zone(tenants):
    """The release policy's time zone, read once per document (not once per expiring switch)."""
    if not any(s.expires for s in tenants):
        return None
    from changemgmt.windows.policy import current_policy

    return current_policy().zone


def switches_json(found=None) -> dict:
    features, models, tenants = found or switches()
    zone = _policy_zone(tenants)
    return {
        "feature_kill_switches": {
            s.feature.slug: {"enabled": s.enabled, "fallback": s.fallback} for s in features
        },
        "model_kill_switches": [
            {
                "model": s.model.model_id,
                "disabled": s.disabled,
                "fallback_model": s.fallback_model.model_id,
            }
            for s in models
        ],
        "tenant_kill_switches": {
            s.tenant.tenant_id: {
                "ai_disabled": s.ai_disabled,
                "reason": s.reason,
                "expires": s.expires.isoformat() if s.expires else None,
                "expires_at": _lifted_at(s.expires, zone),
            }
            for s in tenants
        },
    }


def encode_sections(sections: dict) -> str:
    return json.dumps(sections, separators=(",", ":"), sort_keys=False)


def render_json(version: int, sections: dict | str, found=None) -> str:
    """`sections`: each registered section's value in registration order, or that dict already
    encoded (`encode_sections`). The same bytes as one json.dumps of the whole body."""
    head = json.dumps({"version": version, **switches_json(found)}, separators=(",", ":"))
    tail = sections if isinstance(sections, str) else encode_sections(sections)
    return head if tail == "{}" else head[:-1] + "," + tail[1:]
