"""The decision: what one request may do under one verified policy document (clients/spec/README.md).

A `Snapshot` is built once per applied version: every lookup the request path needs is indexed
then (switches by key, ramps by feature, each model's fallback chain resolved), so `decide()` is a
few dictionary reads and at most one SHA-256, with no lock and no I/O. Snapshots are never
mutated: the poller swaps in a new one with a single reference assignment.
"""

import calendar
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .bucketing import bucket, threshold

BASELINE = "baseline"
CANDIDATE = "candidate"


@dataclass(frozen=True, slots=True)
class Decision:
    feature: str
    ai_enabled: bool
    fallback: str | None
    route: str
    change_id: str | None
    prompt_version: str | None
    model: str | None
    reasons: tuple[str, ...] = field(default=())
    version: int = 0

    def as_dict(self) -> dict:
        return {
            "ai_enabled": self.ai_enabled,
            "fallback": self.fallback,
            "route": self.route,
            "change_id": self.change_id,
            "prompt_version": self.prompt_version,
            "model": self.model,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class _Ramp:
    change_id: str
    threshold: int
    segments: frozenset | None
    regions: frozenset | None
    cohorts: frozenset | None
    prompt_version: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class _Canary:
    """A game-day exercise: its switch counts as engaged for this slice only."""

    switch: str
    tenant: str | None  # canary "tenant:<id>"
    threshold: int  # canary "<p>%": requests whose key falls in the slice

    def covers(self, tenant, key) -> bool:
        if self.tenant is not None:
            return tenant == self.tenant
        return key is not None and bucket("exercise:" + self.switch, key) < self.threshold


def _end_of_day(expires: str | None, expires_at: str | None = None) -> float | None:
    """When a tenant switch counts as lifted: `expires_at` (the end of the expiry day in the
    server's policy time zone, as its sweeper lifts it), else the end of the `expires` day in UTC."""
    if expires_at:
        return datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
    if not expires:
        return None
    day = date.fromisoformat(expires) + timedelta(days=1)
    return float(calendar.timegm(day.timetuple()))


def _audience(values) -> frozenset | None:
    return frozenset(values) if values else None


class Snapshot:
    """One verified policy document, indexed for decisions."""

    __slots__ = ("version", "document", "_features", "_tenants", "_ramps", "_live", "_models")
    __slots__ += ("_canaries", "_model_chains")

    def __init__(self, document: dict):
        self.version = int(document["version"])
        self.document = document
        self._features = {
            slug: (bool(s["enabled"]), s.get("fallback"))
            for slug, s in document.get("feature_kill_switches", {}).items()
        }
        self._tenants = {
            tid: (bool(s["ai_disabled"]), _end_of_day(s.get("expires"), s.get("expires_at")))
            for tid, s in document.get("tenant_kill_switches", {}).items()
        }
        self._models = {
            m["model"]: (bool(m["disabled"]), m.get("fallback_model"))
            for m in document.get("model_kill_switches", [])
        }
        self._ramps: dict[str, list[_Ramp]] = {}
        for ramp in sorted(document.get("ramps", []), key=lambda r: r["change_id"]):
            audience = ramp.get("audience") or {}
            candidate = ramp.get("candidate") or {}
            self._ramps.setdefault(ramp["feature"], []).append(
                _Ramp(
                    change_id=ramp["change_id"],
                    threshold=threshold(ramp["traffic_percent"]),
                    segments=_audience(audience.get("tenant_segments")),
                    regions=_audience(audience.get("regions")),
                    cohorts=_audience(audience.get("cohorts")),
                    prompt_version=candidate.get("prompt_version"),
                    model=candidate.get("candidate_model"),
                )
            )
        self._live = {
            slug: (entry.get("prompt_version"), entry.get("model"), entry.get("change_id"))
            for slug, entry in (document.get("live") or {}).items()
        }
        self._canaries: dict[str, list[_Canary]] = {}
        for exercise in document.get("canary_exercises", []):
            if not exercise.get("engaged", True):
                continue
            canary = exercise["canary"]
            if canary.startswith("tenant:"):
                entry = _Canary(exercise["switch"], canary[len("tenant:") :], 0)
            else:
                entry = _Canary(exercise["switch"], None, threshold(float(canary.rstrip("%"))))
            self._canaries.setdefault(exercise["switch"], []).append(entry)
        self._model_chains = {m: self._chain(m, ()) for m in self._models}

    def _chain(self, model: str, disabled: tuple) -> tuple[str | None, tuple[str, ...]]:
        """Follow fallback_model links from `model` past every disabled one: (model, reasons), or
        (None, reasons) when the chain comes back on itself (no model may serve)."""
        reasons = []
        seen = set(disabled)
        while True:
            off, fallback = self._models.get(model, (False, None))
            if model in disabled:
                off = True
            if not off:
                return model, tuple(reasons)
            if fallback is None or fallback in seen or fallback == model:
                reasons.append(f"model_cycle:{model}")
                return None, tuple(reasons)
            seen.add(model)
            reasons.append(f"model_switch:{model}->{fallback}")
            model = fallback

    def resolve_model(
        self, model: str, *, tenant: str | None = None, user: str | None = None
    ) -> tuple[str | None, tuple[str, ...]]:
        """The model to call instead of `model` after its kill switch (or a game-day exercise on
        it covering this tenant/user) and fallback chain, with the reasons; None when the chain
        cycles. For callers that pick the model themselves (LiteLLM, the reference gateway)."""
        if self._canaries and self._canary(f"model:{model}", tenant, user or tenant):
            resolved, chain = self._chain(model, (model,))
            return resolved, (f"exercise:model:{model}", *chain)
        return self._model_chains.get(model, (model, ()))

    def _canary(self, switch: str, tenant, key) -> bool:
        found = self._canaries.get(switch)
        return found is not None and any(c.covers(tenant, key) for c in found)

    def decide(
        self,
        feature: str,
        *,
        tenant: str | None = None,
        user: str | None = None,
        region: str | None = None,
        segment: str | None = None,
        cohort: str | None = None,
        now: float | None = None,
    ) -> Decision:
        key = user or tenant or None
        switch = self._features.get(feature)
        fallback = switch[1] if switch is not None else None
        canaries = self._canaries
        reasons = []

        if tenant is not None:
            found = self._tenants.get(tenant)
            if found is not None and found[0]:
                lifted_at = found[1]
                if lifted_at is not None and (time.time() if now is None else now) >= lifted_at:
                    reasons.append(f"tenant_switch_expired:{tenant}")
                else:
                    return self._off(feature, fallback, f"tenant_switch:{tenant}")
            if canaries and self._canary(f"tenant:{tenant}", tenant, key):
                return self._off(feature, fallback, f"exercise:tenant:{tenant}")

        if switch is None and feature not in self._live and feature not in self._ramps:
            reasons.append(f"unknown_feature:{feature}")
        elif switch is not None and not switch[0]:
            return self._off(feature, fallback, f"feature_switch:{feature}", reasons)
        if canaries and self._canary(f"feature:{feature}", tenant, key):
            return self._off(feature, fallback, f"exercise:feature:{feature}", reasons)

        prompt_version, model, change_id = self._live.get(feature, (None, None, None))
        route = BASELINE
        for ramp in self._ramps.get(feature, ()):
            if (
                (ramp.segments is not None and segment not in ramp.segments)
                or (ramp.regions is not None and region not in ramp.regions)
                or (ramp.cohorts is not None and cohort not in ramp.cohorts)
            ):
                reasons.append(f"ramp_audience_out:{ramp.change_id}")
            elif key is None:
                reasons.append(f"ramp_no_key:{ramp.change_id}")
            elif bucket(ramp.change_id, key) < ramp.threshold:
                reasons.append(f"ramp_bucket_in:{ramp.change_id}")
                route = CANDIDATE
                change_id = ramp.change_id
                prompt_version = ramp.prompt_version or prompt_version
                model = ramp.model or model
                break
            else:
                reasons.append(f"ramp_bucket_out:{ramp.change_id}")
        else:
            if feature not in self._ramps:
                reasons.append("no_ramp")

        if model is not None:
            if canaries and self._canary(f"model:{model}", tenant, key):
                resolved, chain = self._chain(model, (model,))
                chain = (f"exercise:model:{model}", *chain)
            else:
                resolved, chain = self._model_chains.get(model, (model, ()))
            if chain:
                reasons.extend(chain)
            if resolved is None:
                return self._off(feature, fallback, None, reasons, route=route)
            model = resolved
        return Decision(
            feature, True, None, route, change_id, prompt_version, model, tuple(reasons),
            self.version,
        )  # fmt: skip

    def _off(self, feature, fallback, reason, reasons=(), route=BASELINE) -> Decision:
        reasons = (*reasons, reason) if reason else tuple(reasons)
        return Decision(feature, False, fallback, route, None, None, None, reasons, self.version)
