"""An OpenFeature provider over a PolicyClient.

    from openfeature import api
    from changemgmt_gateway.openfeature import ChangemgmtProvider
    api.set_provider(ChangemgmtProvider(client))
    flags = api.get_client()
    ctx = EvaluationContext(targeting_key="u-9", attributes={"tenant": "t-1", "region": "EU"})
    flags.get_boolean_value("support-assistant", False, ctx)        # AI enabled?
    flags.get_string_value("support-assistant.route", "baseline", ctx)  # baseline / candidate

Flags: `<feature>` (boolean) is `ai_enabled`; `<feature>.route` (string) is the route. The
evaluation context maps to the decision's context: `targeting_key` (or attribute `user`) → user,
attributes `tenant`, `region`, `segment`, `cohort`. The flag metadata carries the change ID,
prompt version, model, fallback and reasons. Before any verified policy the provider answers the
caller's default with PROVIDER_NOT_READY.
"""

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from .client import PolicyUnavailable

ROUTE_SUFFIX = ".route"


def _context(evaluation_context: EvaluationContext | None) -> dict:
    if evaluation_context is None:
        return {}
    attributes = evaluation_context.attributes or {}
    user = evaluation_context.targeting_key or attributes.get("user")

    def text(name):
        value = attributes.get(name)
        return None if value is None else str(value)

    return {
        "user": None if user is None else str(user),
        "tenant": text("tenant"),
        "region": text("region"),
        "segment": text("segment"),
        "cohort": text("cohort"),
    }


class ChangemgmtProvider(AbstractProvider):
    def __init__(self, client):
        super().__init__()
        self.client = client

    def get_metadata(self) -> Metadata:
        return Metadata(name="changemgmt")

    def _decide(self, feature, evaluation_context):
        return self.client.decide(feature, **_context(evaluation_context))

    def _details(self, value, decision, reason) -> FlagResolutionDetails:
        return FlagResolutionDetails(
            value=value,
            reason=reason,
            variant=str(value).lower(),
            flag_metadata={
                "change_id": decision.change_id or "",
                "prompt_version": decision.prompt_version or "",
                "model": decision.model or "",
                "fallback": decision.fallback or "",
                "reasons": ",".join(decision.reasons),
                "policy_version": decision.version,
            },
        )

    def _unavailable(self, default, exc) -> FlagResolutionDetails:
        return FlagResolutionDetails(
            value=default,
            reason=Reason.ERROR,
            error_code=ErrorCode.PROVIDER_NOT_READY,
            error_message=str(exc),
        )

    def _mismatch(self, default, flag_key, wanted) -> FlagResolutionDetails:
        return FlagResolutionDetails(
            value=default,
            reason=Reason.ERROR,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message=f"changemgmt flag {flag_key!r} is not a {wanted} flag",
        )

    def resolve_boolean_details(self, flag_key, default_value, evaluation_context=None):
        if flag_key.endswith(ROUTE_SUFFIX):
            return self._mismatch(default_value, flag_key, "boolean")
        try:
            decision = self._decide(flag_key, evaluation_context)
        except PolicyUnavailable as exc:
            return self._unavailable(default_value, exc)
        reason = Reason.TARGETING_MATCH if not decision.ai_enabled else Reason.DEFAULT
        return self._details(decision.ai_enabled, decision, reason)

    def resolve_string_details(self, flag_key, default_value, evaluation_context=None):
        if not flag_key.endswith(ROUTE_SUFFIX):
            return self._mismatch(default_value, flag_key, "string")
        try:
            decision = self._decide(flag_key[: -len(ROUTE_SUFFIX)], evaluation_context)
        except PolicyUnavailable as exc:
            return self._unavailable(default_value, exc)
        # A route chosen by the ramp's bucket is a split; the baseline outside a ramp the default.
        split = any(r.startswith("ramp_bucket_") for r in decision.reasons)
        return self._details(decision.route, decision, Reason.SPLIT if split else Reason.DEFAULT)

    def resolve_integer_details(self, flag_key, default_value, evaluation_context=None):
        return self._mismatch(default_value, flag_key, "integer")

    def resolve_float_details(self, flag_key, default_value, evaluation_context=None):
        return self._mismatch(default_value, flag_key, "float")

    def resolve_object_details(self, flag_key, default_value, evaluation_context=None):
        return self._mismatch(default_value, flag_key, "object")
