"""LiteLLM: enforce the policy in the proxy's pre-call hook, or around a `Router`'s completion.

    from changemgmt_gateway.litellm import ChangemgmtHook, FeatureDisabled
    hook = ChangemgmtHook(client)              # proxy: litellm_settings.callbacks = [hook]
    completion = hook.guard(router.completion)  # Router (or litellm.completion)
    try:
        completion(model="openai.gpt-4o-2024-11", messages=[...],
                   metadata={"feature": "support-assistant", "tenant": "t-1", "user": "u-9"})
    except FeatureDisabled as off:
        serve(off.fallback)

The request names its feature and context in `metadata` (`feature`, `tenant`, `user`, `region`,
`segment`, `cohort`). A disabled model is swapped for its fallback model (chains followed); a ramp's
candidate model is used for the requests in its slice; a tenant or feature switch raises
FeatureDisabled carrying the feature's fallback, which the caller catches and serves.
"""

import functools
import os

# LiteLLM fetches its model price map from the internet at import unless told not to: a gateway
# must start on an air-gapped network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from litellm.integrations.custom_logger import CustomLogger  # noqa: E402

from .decide import Decision  # noqa: E402

CONTEXT_KEYS = ("tenant", "user", "region", "segment", "cohort")


class FeatureDisabled(Exception):
    """The policy turned the AI off for this request: serve `fallback` instead."""

    def __init__(self, decision: Decision):
        self.decision = decision
        self.fallback = decision.fallback
        self.reasons = decision.reasons
        super().__init__(
            f"{decision.feature}: AI off by {', '.join(decision.reasons)}; "
            f"fallback {decision.fallback or '(none)'}"
        )


class ChangemgmtHook(CustomLogger):
    def __init__(self, client, *, feature_key: str = "feature"):
        super().__init__()
        self.client = client
        self.feature_key = feature_key

    def apply(self, data: dict) -> dict:
        """The request `data` (LiteLLM's completion kwargs) as the policy allows it: the model
        swapped where a switch or a ramp says so, the decision in `metadata["changemgmt"]`.
        Raises FeatureDisabled when the AI is off, PolicyUnavailable before any policy."""
        metadata = dict(data.get("metadata") or {})
        feature = metadata.get(self.feature_key)
        requested = data.get("model")
        snapshot = self.client.snapshot  # PolicyUnavailable before any verified document
        if feature:
            context = {k: metadata.get(k) for k in CONTEXT_KEYS}
            decision = snapshot.decide(feature, **context)
            if not decision.ai_enabled:
                raise FeatureDisabled(decision)
            # The policy names the model only when it knows the feature's (live or candidate);
            # otherwise the caller's model goes through the model switches alone.
            model = decision.model
            reasons = decision.reasons
            if decision.route != "candidate" or model is None:
                model, chain = (
                    snapshot.resolve_model(
                        requested, tenant=context["tenant"], user=context["user"]
                    )
                    if requested
                    else (None, ())
                )
                reasons = (*decision.reasons, *chain)
                if model is None and requested:
                    raise FeatureDisabled(
                        Decision(
                            feature,
                            False,
                            decision.fallback,
                            decision.route,
                            None,
                            None,
                            None,
                            reasons,
                            decision.version,
                        )  # fmt: skip
                    )
            metadata["changemgmt"] = {**decision.as_dict(), "reasons": list(reasons)}
        elif requested:
            model, chain = snapshot.resolve_model(requested)
            if model is None:
                raise FeatureDisabled(
                    Decision("", False, None, "baseline", None, None, None, chain, snapshot.version)
                )
            metadata["changemgmt"] = {"model": model, "reasons": list(chain)}
        else:
            return data
        return {**data, "model": model or requested, "metadata": metadata}

    async def async_pre_call_hook(self, user_api_key_dict, cache, data: dict, call_type):
        """The LiteLLM proxy's hook: the returned dict is the request the proxy sends."""
        return self.apply(data)

    def guard(self, completion):
        """Wrap `Router.completion`, `Router.acompletion`, `litellm.completion` or `acompletion`
        so every call goes through `apply` first."""
        if _is_coroutine(completion):

            @functools.wraps(completion)
            async def guarded_async(**kwargs):
                return await completion(**self.apply(kwargs))

            return guarded_async

        @functools.wraps(completion)
        def guarded(**kwargs):
            return completion(**self.apply(kwargs))

        return guarded


def _is_coroutine(function) -> bool:
    import inspect

    return inspect.iscoroutinefunction(function)
