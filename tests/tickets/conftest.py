"""Fixtures for the ticket and CAB page tests."""

import pytest

from changemgmt.tickets import services
from changemgmt.tickets.models import CHECKLIST_ITEMS
from tests.factories import FeatureFactory, TicketFactory


@pytest.fixture
def feature(db):
    """Medium tier, not customer-facing: quorum is cab_platform + cab_feature."""
    return FeatureFactory(slug="support-assistant", risk_tier="medium", customer_facing=False)


@pytest.fixture
def all_ticked():
    return {item: True for item in CHECKLIST_ITEMS}


@pytest.fixture
def submitted_ticket(author, release_manager, feature):
    ticket = TicketFactory(author=author, release_manager=release_manager, feature=feature)
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def ticket_form_data(feature, release_manager):
    """A POST body for the ticket form that files a complete Medium ticket."""

    def build(**overrides):
        data = {
            "title": "Handle the new travel-insurance product line",
            "summary": "Prompt update for the support assistant",
            "feature": str(feature.pk),
            "classification": "prompt",
            "risk_tier": "",
            "rollback_plan": "1. Flip feature:support-assistant off. 2. Re-pin prompt "
            "support-assistant@41. 3. Confirm evals return to baseline.",
            "kill_switch": f"feature:{feature.slug}",
            "users_affected": "4000000",
            "regions": ["AU", "US"],
            "max_traffic_percent": "50",
            "pr_url": "https://git.example.com/ai/support/pull/812",
            "prompt_version": "support-assistant@42",
            "candidate_model": "",
            "model_card_url": "",
            "risk_review_ticket": "AIRR-2291",
            "release_manager": str(release_manager.pk),
            "bridge_url": "https://meet.example.com/rel",
            "bridge": "release_manager",
            "paging_list": "ai-oncall@example.com, sre@example.com",
            "emergency_justification": "",
            "eval_regression_justification": "",
            "evals-TOTAL_FORMS": "2",
            "evals-INITIAL_FORMS": "0",
            "evals-MIN_NUM_FORMS": "0",
            "evals-MAX_NUM_FORMS": "1000",
            "evals-0-metric": "groundedness",
            "evals-0-baseline": "0.812",
            "evals-0-candidate": "0.822",
            "evals-0-higher_is_better": "True",
            "evals-1-metric": "",
            "evals-1-baseline": "",
            "evals-1-candidate": "",
            "evals-1-higher_is_better": "True",
        }
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    return build
