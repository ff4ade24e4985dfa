"""The author cannot switch the guards off, and nothing is approved that `start` would refuse
(issue 11 items 2 and 4): the tier's floor under the guards and the plan's caps are checked when
the plan is saved and again at submit (and an exec's emergency approval)."""

import pytest
from django.core.exceptions import ValidationError

from changemgmt.rollouts.models import Guard
from changemgmt.rollouts.services import ramp_plan_update
from changemgmt.tickets.services import TransitionRefused, ticket_transition
from tests.factories import FeatureFactory, ModelFactory, TicketFactory
from tests.killswitches.factories import FeatureSwitchFactory
from tests.rollouts.test_pages import plan_post

DEFAULT_PLAN = [
    {"percent": p, "bake_minutes": b, "tenant_segments": [], "regions": [], "cohorts": []}
    for p, b in ((1, 30), (10, 240), (50, 1440), (100, 0))
]
SWITCHED_OFF = [
    {"metric": m, "threshold": 999, "severe_threshold": None, "observe_only": True}
    for m in ("eval_score_drift", "negative_feedback_rate", "error_rate", "latency_p95_ms")
]


@pytest.fixture
def draft(author, release_manager, support_assistant):
    FeatureSwitchFactory(feature=support_assistant)  # submit wants a real switch behind the path
    return TicketFactory(
        author=author,
        release_manager=release_manager,
        feature=support_assistant,
        users_affected=4_000_000,
        max_traffic_percent=50,
    )


def guard_rows(ticket):
    return sorted(ticket.guards.values_list("metric", "threshold", "observe_only"))


def test_it_refuses_a_plan_that_switches_every_guard_off(draft, author):
    before = guard_rows(draft)
    with pytest.raises(ValidationError) as refused:
        ramp_plan_update(draft, acting_user=author, plan=DEFAULT_PLAN, guards=SWITCHED_OFF)
    said = " ".join(refused.value.message_dict["guards"])
    assert "The error rate guard must gate a Medium tier ramp" in said
    assert "The eval score drift guard must gate" in said
    assert guard_rows(draft) == before  # nothing saved, not even the guards it allows


def test_it_refuses_a_threshold_looser_than_the_tier_policy(draft, author):
    looser = [{"metric": "error_rate", "threshold": 0.5, "severe_threshold": 0.9}]
    with pytest.raises(ValidationError) as refused:
        ramp_plan_update(draft, acting_user=author, plan=DEFAULT_PLAN, guards=looser)
    said = " ".join(refused.value.message_dict["guards"])
    assert "error rate threshold 0.5 is looser than the medium tier policy's 0.02" in said
    assert "roll-back threshold (0.9) is looser than the medium tier policy's 0.05" in said


def test_it_lets_observe_only_guards_come_on_top_and_tighter_thresholds(draft, author):
    rows = [
        {"metric": "latency_p95_ms", "threshold": 9000, "observe_only": True},
        {"metric": "error_rate", "threshold": 0.01, "severe_threshold": 0.03},
    ]
    ramp_plan_update(draft, acting_user=author, plan=DEFAULT_PLAN, guards=rows)
    assert draft.guards.get(metric="latency_p95_ms").observe_only
    assert draft.guards.get(metric="error_rate").threshold == 0.01


def test_it_allows_a_low_tier_to_observe_only(author):
    ticket = TicketFactory(author=author, feature=FeatureFactory(risk_tier="low"))
    plan = [{**DEFAULT_PLAN[1], "percent": 10, "bake_minutes": 30}, DEFAULT_PLAN[3]]
    ramp_plan_update(ticket, acting_user=author, plan=plan, guards=SWITCHED_OFF)
    assert ticket.guards.filter(observe_only=True).count() == 4


def test_it_refuses_submit_when_the_guards_were_loosened(draft, author):
    # Guards written before the floor existed (or behind the service's back) still cannot pass.
    Guard.objects.filter(ticket=draft, metric="error_rate").update(observe_only=True)
    with pytest.raises(TransitionRefused) as refused:
        ticket_transition(draft, "submit", acting_user=author)
    assert "guards_keep_the_tier_floor" in [name for name, _ in refused.value.reasons]
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_it_shows_the_floor_as_a_form_error_on_the_plan_page(client, draft, author):
    client.force_login(author)
    stages = [
        {"percent": str(s["percent"]), "bake_minutes": str(s["bake_minutes"])} for s in DEFAULT_PLAN
    ]
    guards = [
        {"metric": row["metric"], "threshold": "999", "observe_only": "on"} for row in SWITCHED_OFF
    ]
    response = client.post(f"/ramps/{draft.change_id}/plan/", plan_post(stages, guards))
    assert response.status_code == 400
    assert "must gate a Medium tier ramp" in response.content.decode()
    assert not draft.guards.filter(observe_only=True).exists()


def test_the_review_page_marks_a_guard_that_differs_from_the_tier_default(
    client, draft, author, cab_platform
):
    rows = [{"metric": "latency_p95_ms", "threshold": 9000, "observe_only": True}]
    ramp_plan_update(draft, acting_user=author, plan=DEFAULT_PLAN, guards=rows)
    ticket_transition(draft, "submit", acting_user=author)
    client.force_login(cab_platform)
    page = client.get(f"/tickets/{draft.change_id}/review/").content.decode()
    assert (
        "differs from the tier default: halt above 9000 (default 2500); roll back above never "
        "(default 5000); observe only"
    ) in page
    assert page.count("guard-differs") == 1


# ----- item 4: the plan against the cap, the kill switch against the switches -----


def own_plan(*stages):
    return [
        {"percent": p, "bake_minutes": b, "tenant_segments": [], "regions": [], "cohorts": []}
        for p, b in stages
    ]


def test_it_refuses_to_submit_a_plan_that_breaks_its_own_cap(draft, author):
    # The author's own plan (a default one is fitted to the cap instead: test_plan_fits_cap.py).
    ramp_plan_update(draft, acting_user=author, plan=own_plan((2, 30), (20, 240), (100, 0)))
    draft.max_traffic_percent = 5
    draft.save()
    with pytest.raises(TransitionRefused) as refused:
        ticket_transition(draft, "submit", acting_user=author)
    reasons = dict(refused.value.reasons)
    assert "Stage 2: 20% exceeds the ticket's max traffic of 5%" in reasons["ramp_plan_is_valid"]


def test_it_never_pre_approves_a_low_tier_plan_over_its_cap(author):
    ticket = TicketFactory(author=author, feature=FeatureFactory(risk_tier="low"))
    ramp_plan_update(ticket, acting_user=author, plan=own_plan((20, 30), (100, 0)))
    ticket.max_traffic_percent = 5
    ticket.save()
    with pytest.raises(TransitionRefused) as refused:
        ticket_transition(ticket, "submit", acting_user=author)
    assert "ramp_plan_is_valid" in dict(refused.value.reasons)
    ticket.refresh_from_db()
    assert ticket.state == "draft" and not ticket.standard_change


def test_it_refuses_a_kill_switch_path_with_no_switch_behind_it(author):
    # The model is in the catalog (a fallback), but nobody made it a kill switch.
    ModelFactory(model_id="anthropic.claude-sonnet-4-5")
    ticket = TicketFactory(
        author=author,
        feature=FeatureFactory(risk_tier="low"),
        kill_switch="model:anthropic.claude-sonnet-4-5",
    )
    with pytest.raises(TransitionRefused) as refused:
        ticket_transition(ticket, "submit", acting_user=author)
    reasons = dict(refused.value.reasons)
    assert (
        "There is no kill switch model:anthropic.claude-sonnet-4-5"
        in (reasons["kill_switch_path_names_a_switch"])
    )
    ticket.refresh_from_db()
    assert ticket.state == "draft"
