"""Load a gateway-policy YAML (the article's shape) into the switches: all or nothing.

The file is composed (not just loaded) so every refusal names its line: a malformed file, an
unknown feature, model or tenant, a fallback model that does not exist, a switch that falls back
to itself. Switches the file does not mention are left as they are.
"""

import datetime
from dataclasses import dataclass, field

import yaml
from django.db import transaction

from changemgmt.audit.recording import save_audited
from changemgmt.catalog.models import AIFeature, AIModel, Tenant

from .models import FeatureSwitch, ModelSwitch, TenantSwitch
from .policy import policy_bump
from .services import policy_today

SECTIONS = ("feature_kill_switches", "model_kill_switches", "tenant_kill_switches")


class PolicyFileError(Exception):
    def __init__(self, line: int | None, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass
class Change:
    path: str
    before: dict | None
    after: dict
    apply: object = field(repr=False, default=None)

    def describe(self) -> str:
        if self.before is None:
            shown = ", ".join(f"{k}: {_show(v)}" for k, v in self.after.items())
            return f"+ {self.path} ({shown})"
        parts = [
            f"{k}: {_show(self.before[k])} -> {_show(v)}"
            for k, v in self.after.items()
            if self.before[k] != v
        ]
        return f"~ {self.path} " + ", ".join(parts)


def _show(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def _line(node) -> int:
    return node.start_mark.line + 1


_constructor = yaml.SafeLoader("")


def _scalar(node, kind, what: str):
    if not isinstance(node, yaml.ScalarNode):
        raise PolicyFileError(_line(node), f"{what} must be a single value")
    try:
        value = _constructor.construct_object(node)
    except ValueError:
        # YAML's resolver took it for a date (2026-13-45, 2027-02-30) that the calendar lacks.
        raise PolicyFileError(_line(node), f"{what} is not a valid date: {node.value}") from None
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = node.value
    if kind is datetime.date and value is None:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        expected = {bool: "true or false", str: "text", datetime.date: "a date (YYYY-MM-DD)"}[kind]
        raise PolicyFileError(_line(node), f"{what} must be {expected}")
    return value


def _mapping(node, what: str) -> list[tuple]:
    if not isinstance(node, yaml.MappingNode):
        raise PolicyFileError(_line(node), f"{what} must be a mapping")
    return node.value


def _fields(node, required: tuple[str, ...], what: str) -> dict:
    found = {}
    for key_node, value_node in _mapping(node, what):
        key = _scalar(key_node, str, "a key")
        if key not in required:
            raise PolicyFileError(_line(key_node), f"unknown field '{key}' in {what}")
        if key in found:
            raise PolicyFileError(_line(key_node), f"'{key}' appears twice in {what}")
        found[key] = value_node
    missing = [k for k in required if k not in found]
    if missing:
        raise PolicyFileError(_line(node), f"{what} is missing {', '.join(missing)}")
    return found


def compose(text: str):
    loader = None
    try:
        # The loader's reader refuses unprintable characters already in its constructor.
        loader = yaml.SafeLoader(text)
        return loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyFileError(
            mark.line + 1 if mark else None, f"not valid YAML: {problem}"
        ) from exc
    finally:
        if loader is not None:
            loader.dispose()


def plan(text: str) -> list[Change]:
    """The changes the file asks for; raises PolicyFileError naming the line of the first problem."""
    root = compose(text)
    if root is None:
        raise PolicyFileError(1, "the file is empty")
    sections = {}
    for key_node, value_node in _mapping(root, "the policy"):
        key = _scalar(key_node, str, "a section name")
        if key not in SECTIONS:
            raise PolicyFileError(
                _line(key_node), f"unknown section '{key}' (expected {', '.join(SECTIONS)})"
            )
        sections[key] = value_node
    changes: list[Change] = []
    if "feature_kill_switches" in sections:
        changes += _plan_features(sections["feature_kill_switches"])
    if "model_kill_switches" in sections:
        changes += _plan_models(sections["model_kill_switches"])
    if "tenant_kill_switches" in sections:
        changes += _plan_tenants(sections["tenant_kill_switches"])
    return changes


def _plan_keyed(node, *, section: str, noun: str, key_what: str, find, read, switch_model, link):
    """A section keyed by catalog id (features by slug, tenants by id): each key once and known to
    the catalog, `read(key, value_node)` gives the switch's values, and a change is planned where
    they differ from the switch's (or there is no switch yet)."""
    changes, seen = [], set()
    for key_node, value_node in _mapping(node, section):
        key = _scalar(key_node, str, key_what)
        if key in seen:
            raise PolicyFileError(_line(key_node), f"{noun} {key} appears twice")
        seen.add(key)
        row = find(key)
        if row is None:
            raise PolicyFileError(_line(key_node), f"unknown {noun} '{key}'")
        after = read(key, value_node)
        switch = switch_model.objects.filter(**{link: row}).first()
        before = {name: getattr(switch, name) for name in after} if switch else None
        if before != after:
            switch = switch or switch_model(**{link: row})
            changes.append(Change(f"{noun}:{key}", before, after, (switch, after)))
    return changes


def _plan_features(node) -> list[Change]:
    return _plan_keyed(
        node,
        section="feature_kill_switches",
        noun="feature",
        key_what="a feature slug",
        find=lambda slug: AIFeature.objects.filter(slug=slug).first(),
        read=_read_feature,
        switch_model=FeatureSwitch,
        link="feature",
    )


def _read_feature(slug: str, node) -> dict:
    fields = _fields(node, ("enabled", "fallback"), f"feature {slug}")
    enabled = _scalar(fields["enabled"], bool, f"{slug}.enabled")
    fallback = _scalar(fields["fallback"], str, f"{slug}.fallback").strip()
    if not fallback:
        raise PolicyFileError(_line(fields["fallback"]), f"{slug}.fallback is empty")
    if fallback == slug:
        raise PolicyFileError(_line(fields["fallback"]), f"feature {slug} falls back to itself")
    return {"enabled": enabled, "fallback": fallback}


def _plan_models(node) -> list[Change]:
    if not isinstance(node, yaml.SequenceNode):
        raise PolicyFileError(_line(node), "model_kill_switches must be a list")
    changes, seen = [], set()
    for item in node.value:
        fields = _fields(item, ("model", "disabled", "fallback_model"), "a model switch")
        model_id = _scalar(fields["model"], str, "model")
        if model_id in seen:
            raise PolicyFileError(_line(fields["model"]), f"model {model_id} appears twice")
        seen.add(model_id)
        model = AIModel.objects.filter(model_id=model_id).first()
        if model is None:
            raise PolicyFileError(_line(fields["model"]), f"unknown model '{model_id}'")
        disabled = _scalar(fields["disabled"], bool, f"{model_id}.disabled")
        fallback_id = _scalar(fields["fallback_model"], str, f"{model_id}.fallback_model")
        if fallback_id == model_id:
            raise PolicyFileError(
                _line(fields["fallback_model"]), f"model {model_id} falls back to itself"
            )
        fallback = AIModel.objects.filter(model_id=fallback_id).first()
        if fallback is None:
            raise PolicyFileError(
                _line(fields["fallback_model"]), f"fallback model '{fallback_id}' does not exist"
            )
        switch = ModelSwitch.objects.select_related("fallback_model").filter(model=model).first()
        after = {"disabled": disabled, "fallback_model": fallback_id}
        before = (
            {"disabled": switch.disabled, "fallback_model": switch.fallback_model.model_id}
            if switch
            else None
        )
        if before != after:
            switch = switch or ModelSwitch(model=model)
            changes.append(
                Change(
                    f"model:{model_id}",
                    before,
                    after,
                    (switch, {"disabled": disabled, "fallback_model": fallback}),
                )
            )
    return changes


def _plan_tenants(node) -> list[Change]:
    return _plan_keyed(
        node,
        section="tenant_kill_switches",
        noun="tenant",
        key_what="a tenant id",
        find=lambda tenant_id: Tenant.objects.filter(tenant_id=tenant_id).first(),
        read=_read_tenant,
        switch_model=TenantSwitch,
        link="tenant",
    )


def _read_tenant(tenant_id: str, node) -> dict:
    fields = _fields(node, ("ai_disabled", "reason", "expires"), f"tenant {tenant_id}")
    ai_disabled = _scalar(fields["ai_disabled"], bool, f"{tenant_id}.ai_disabled")
    reason_node = fields["reason"]
    reason = (
        ""
        if _constructor.construct_object(reason_node) is None
        else _scalar(reason_node, str, f"{tenant_id}.reason")
    )
    if len(reason) > 500:
        raise PolicyFileError(
            _line(reason_node), f"{tenant_id}.reason is longer than 500 characters"
        )
    expires = _scalar(fields["expires"], datetime.date, f"{tenant_id}.expires")
    if isinstance(expires, datetime.datetime):
        raise PolicyFileError(_line(fields["expires"]), f"{tenant_id}.expires must be a date")
    if expires is not None and expires < policy_today():
        # The flip API refuses a past expiry; so does the file, or the sweep lifts it at once.
        raise PolicyFileError(
            _line(fields["expires"]), f"{tenant_id}.expires is in the past ({expires})"
        )
    return {"ai_disabled": ai_disabled, "reason": reason, "expires": expires}


@transaction.atomic
def import_policy(text: str, *, acting_user, source: str, dry_run: bool = False) -> list[Change]:
    """Apply the file's changes in one transaction (or only plan them with dry_run)."""
    changes = plan(text)
    if dry_run or not changes:
        return changes
    for change in changes:
        switch, values = change.apply
        for name, value in values.items():
            setattr(switch, name, value)
        if (
            isinstance(switch, TenantSwitch)
            and change.before
            and change.before["expires"] != values["expires"]
        ):
            switch.warned_at = None
        save_audited(switch, acting_user=acting_user, reason=f"imported from {source}")
    policy_bump(f"import_gateway_policy {source}: {len(changes)} change(s)")
    return changes
