"""The ticket body CI pipelines send (DESIGN.md "API shapes")."""

import copy

from rest_framework.test import APIClient


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


WORKED_EXAMPLE = {
    "title": "Handle the new travel-insurance product line",
    "summary": "Prompt update for the support assistant",
    "feature": "support-assistant",
    "classification": "prompt",
    "risk_tier": "medium",
    "release_manager": "release_manager",
    "eval_deltas": [{"metric": "groundedness", "baseline": 0.812, "candidate": 0.822}],
    "rollback_plan": "1. Flip feature:support-assistant to the human-agent queue. "
    "2. Re-pin prompt support-assistant@41 in the registry.",
    "kill_switch": "feature:support-assistant",
    "blast_radius": {
        "users_affected": 4000000,
        "regions": ["AU", "CA", "EU", "US"],
        "max_traffic_percent": 50,
    },
    "artifacts": {
        "pr_url": "https://git.example.com/ai/support/pull/812",
        "prompt_version": "support-assistant@42",
        "model_card_url": "",
        "risk_review_ticket": "AIRR-2291",
    },
    "release_window": {
        "planned_start": "2027-02-10T10:00:00-05:00",
        "bridge_url": "https://meet.example.com/rel",
        "bridge": ["release_manager"],
        "paging_list": ["ai-oncall@example.com"],
    },
    "emergency": False,
    "emergency_justification": "",
}


def worked_example(**overrides):
    body = copy.deepcopy(WORKED_EXAMPLE)
    body.update(overrides)
    return body
