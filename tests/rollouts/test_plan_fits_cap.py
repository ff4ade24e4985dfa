"""The tier's default plan is fitted to the ticket's blast radius (issue 11 item 4): a ticket with
`max_traffic_percent: 5` never carries a default 10% or 50% canary stage that `start` would refuse,
and the page says the plan was fitted."""

import pytest

from changemgmt.rollouts.guards import ramp_plan_is_valid
from changemgmt.rollouts.services import ramp_plan_update
from changemgmt.tickets import services as ticket_services
from tests.factories import FeatureFactory, TicketFactory


def plan(ticket):
    return list(ticket.ramp_stages.order_by("index").values_list("percent", "bake_minutes"))


@pytest.fixture
def draft(author, support_assistant):
    return TicketFactory(
        author=author, feature=support_assistant, users_affected=4_000_000, max_traffic_percent=5
    )


def test_it_fits_a_medium_default_plan_to_a_five_percent_cap(draft):
    assert plan(draft) == [(1, 30), (5, 240), (100, 0)]
    assert ramp_plan_is_valid(draft) is None
    first = draft.ramp_stages.get(index=1).history.first()
    assert first.history_change_reason == (
        "default ramp plan for the medium tier, fitted to the ticket's 5% cap"
    )


def test_it_fits_a_low_tier_default_plan_and_the_pre_approval_can_start(author, select_guards):
    select_guards({"ticket_is_complete", "ramp_plan_is_valid"}, on=("submit", "start"))
    low = FeatureFactory(slug="policy-search-v1", risk_tier="low", users_served=1_000_000)
    ticket = TicketFactory(
        author=author, feature=low, users_affected=1_000_000, max_traffic_percent=5
    )
    assert plan(ticket) == [(5, 30), (100, 0)]
    ticket_services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == "approved"  # Low tier: pre-approved
    assert ramp_plan_is_valid(ticket) is None  # what start checks


def test_it_fits_to_the_users_affected_too(author, support_assistant):
    ticket = TicketFactory(
        author=author, feature=support_assistant, users_affected=100_000, max_traffic_percent=50
    )
    assert plan(ticket) == [(1, 30), (2, 240), (100, 0)]  # 2% of 4,000,000 = 80,000 users
    assert ramp_plan_is_valid(ticket) is None


def test_it_refits_a_default_plan_when_the_draft_cap_is_edited(draft, author):
    ticket_services.ticket_update(draft, acting_user=author, data={"max_traffic_percent": 50})
    assert plan(draft) == [(1, 30), (10, 240), (50, 1440), (100, 0)]
    ticket_services.ticket_update(draft, acting_user=author, data={"max_traffic_percent": 20})
    assert plan(draft) == [(1, 30), (10, 240), (20, 1440), (100, 0)]
    row = draft.ramp_stages.get(index=2).history.first()
    assert (row.history_user, row.history_change_reason) == (
        author,
        "default ramp plan fitted to the ticket's 20% cap",
    )


def test_it_leaves_the_authors_own_plan_to_the_rules(draft, author):
    ticket_services.ticket_update(draft, acting_user=author, data={"max_traffic_percent": 50})
    own = [
        {"percent": 2, "bake_minutes": 60, "tenant_segments": [], "regions": [], "cohorts": []},
        {"percent": 30, "bake_minutes": 60, "tenant_segments": [], "regions": [], "cohorts": []},
        {"percent": 100, "bake_minutes": 0, "tenant_segments": [], "regions": [], "cohorts": []},
    ]
    ramp_plan_update(draft, acting_user=author, plan=own)
    ticket_services.ticket_update(draft, acting_user=author, data={"max_traffic_percent": 10})
    assert plan(draft) == [(2, 60), (30, 60), (100, 0)]
    draft.refresh_from_db()
    assert "Stage 2: 30% exceeds the ticket's max traffic of 10%" in ramp_plan_is_valid(draft)


def test_it_says_on_the_ticket_page_that_the_plan_was_fitted(client, draft, author):
    client.force_login(author)
    html = client.get(f"/tickets/{draft.change_id}/").content.decode()
    assert 'id="plan-fitted"' in html
    assert "default plan, fitted to this ticket's blast radius" in html
    ticket_services.ticket_update(draft, acting_user=author, data={"max_traffic_percent": 50})
    assert 'id="plan-fitted"' not in client.get(f"/tickets/{draft.change_id}/").content.decode()
