"""Demo tickets, so a fresh `make run` has something on the CAB agenda and the ticket list:
the article's worked example waiting for the CAB, a Low-tier standard change, and a draft.

Filed and submitted through the services as the demo users (never written around the lifecycle),
so their history and audit records are as real as any other ticket's.
"""

from django.contrib.auth import get_user_model

from changemgmt.catalog.models import AIFeature

from .models import ChangeTicket
from .services import ticket_create, ticket_transition

WORKED_EXAMPLE = {
    "title": "Handle the new travel-insurance product line",
    "summary": "Prompt update for the support assistant to answer questions about the new "
    "travel-insurance product line. Staging: groundedness up 1.2%, refusal correctness "
    "unchanged, no fairness deltas.",
    "feature": "support-assistant",
    "classification": "prompt",
    "rollback_plan": "1. Flip feature:support-assistant off (fallback human-agent-queue).\n"
    "2. Re-pin prompt support-assistant@41 in the prompt registry.\n"
    "3. Flip the switch back on and confirm groundedness returns to 0.812 on the live eval.",
    "kill_switch": "feature:support-assistant",
    "users_affected": 4_000_000,
    "regions": ["AU", "CA", "EU", "US"],
    "max_traffic_percent": 50,
    "pr_url": "https://git.example.com/ai/support/pull/812",
    "prompt_version": "support-assistant@42",
    "risk_review_ticket": "AIRR-2291",
    "bridge_url": "https://meet.example.com/rel",
    "bridge": ["release_manager"],
    "paging_list": ["ai-oncall@example.com"],
}
WORKED_EXAMPLE_EVALS = [
    {"metric": "groundedness", "baseline": 0.812, "candidate": 0.822},
    {"metric": "refusal_correctness", "baseline": 0.97, "candidate": 0.97},
]

STANDARD_CHANGE = {
    "title": "Raise policy-search retrieval top-k from 8 to 10",
    "summary": "Config change filed by the CI pipeline: more passages for long policy questions.",
    "feature": "policy-search-v1",
    "classification": "config",
    "rollback_plan": "1. Set retrieval.top_k back to 8 in the policy-search config repo.\n"
    "2. Redeploy the config; if answers degrade meanwhile, flip feature:policy-search-v1.",
    "kill_switch": "feature:policy-search-v1",
    "users_affected": 250_000,
    "regions": ["US", "CA"],
    "max_traffic_percent": 10,
    "pr_url": "https://git.example.com/ai/search/pull/377",
}

DRAFT = {
    "title": "Swap underwriting assistant to claude-sonnet-4-5",
    "summary": "Model swap for the underwriting decision assistant (High tier): draft, the "
    "rollback plan is still being written.",
    "feature": "underwriting-decision-v2",
    "classification": "model_swap",
    "candidate_model": "bedrock.anthropic.claude-sonnet-4-5",
    "kill_switch": "feature:underwriting-decision-v2",
    "users_affected": 12_000,
    "regions": ["US"],
    "max_traffic_percent": 10,
}


def _file(data, evals, *, author, release_manager):
    if ChangeTicket.objects.filter(title=data["title"]).exists():
        return None
    values = dict(data, feature=AIFeature.objects.get(slug=data["feature"]))
    values["release_manager"] = release_manager
    return ticket_create(acting_user=author, data=values, eval_deltas=evals, reason="demo")


def seed(acting_user, stdout):
    users = get_user_model().objects
    author, release_manager = users.get(username="author"), users.get(username="release_manager")
    ticket = _file(
        WORKED_EXAMPLE, WORKED_EXAMPLE_EVALS, author=author, release_manager=release_manager
    )
    if ticket is not None:
        ticket_transition(ticket, "submit", acting_user=author, reason="ready for the CAB")
    ticket = _file(
        STANDARD_CHANGE,
        [{"metric": "answer_relevance", "baseline": 0.861, "candidate": 0.866}],
        author=author,
        release_manager=release_manager,
    )
    if ticket is not None:
        ticket_transition(ticket, "submit", acting_user=author, reason="standard change")
    _file(DRAFT, [], author=author, release_manager=release_manager)
    stdout.write("Demo tickets: one awaiting the CAB, one pre-approved standard change, one draft.")
