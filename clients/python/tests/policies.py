"""A small signed-policy world for the integration tests: one feature ramping, model switches."""

import base64
import json

SA = "support-assistant"
HAIKU = "bedrock.anthropic.claude-haiku-4-5"
BSONNET = "bedrock.anthropic.claude-sonnet-4-5"
GPT = "openai.gpt-4o-2024-11"
SONNET = "anthropic.claude-sonnet-4-5"


def document(*, version=1, feature_on=True, tenant_off=None, gpt_disabled=False, ramp_model=None):
    return {
        "version": version,
        "feature_kill_switches": {SA: {"enabled": feature_on, "fallback": "human-agent-queue"}},
        "model_kill_switches": [
            {"model": GPT, "disabled": gpt_disabled, "fallback_model": SONNET},
            {"model": HAIKU, "disabled": False, "fallback_model": BSONNET},
        ],
        "tenant_kill_switches": {
            tenant: {"ai_disabled": True, "reason": "pause", "expires": None}
            for tenant in ([tenant_off] if tenant_off else [])
        },
        "ramps": [
            {
                "feature": SA, "change_id": "CHG-2026-00042", "traffic_percent": 10,
                "candidate": {"prompt_version": "support-assistant@42",
                              "candidate_model": ramp_model},
                "audience": {"tenant_segments": [], "regions": [], "cohorts": []},
                "stage": 2, "stages": 4, "state": "ramping",
            }
        ],
        "live": {SA: {"prompt_version": "support-assistant@41", "model": None,
                      "change_id": "CHG-2026-00017", "deployed_at": None}},
        "canary_exercises": [],
    }  # fmt: skip


class StaticClient:
    """A PolicyClient stand-in holding one verified snapshot (what the integrations read)."""

    def __init__(self, doc, signing_key=None):
        from changemgmt_gateway import PolicyClient

        private, public_pem = signing_key
        body = json.dumps(doc, separators=(",", ":")).encode()
        self._client = PolicyClient("http://127.0.0.1:9", "t", public_pem, gateway_id="gw-test")
        self._client._apply(body, base64.b64encode(private.sign(body)).decode(), source="test")

    def __getattr__(self, name):
        return getattr(self._client, name)
