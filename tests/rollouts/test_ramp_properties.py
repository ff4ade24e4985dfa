"""Properties over random plans and random sample streams: traffic never exceeds the cap before
the last stage, the audience never shrinks, no stage is skipped, and no promotion happens without
the minimum samples (or over a breach)."""

from datetime import timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from changemgmt.catalog.models import Segment, TierPolicy, default_ramp_for
from changemgmt.rollouts import health, sweeper
from changemgmt.rollouts.models import Breach, RampStage, RolloutPolicy
from changemgmt.rollouts.plans import plan_problems
from changemgmt.rollouts.services import breach_acknowledge, samples_record
from changemgmt.tickets.services import TransitionRefused, ticket_transition
from tests.factories import FeatureFactory, TicketFactory
from tests.rollouts.conftest import HEALTHY, METRICS, ROLLOUT_GUARDS, WEDNESDAY_10, tick

MIN_SAMPLES = 3
SEGMENTS = Segment.order()
REGIONS = ["AU", "CA", "EU", "US"]
COHORTS = ["internal", "free", "opted_in"]


def audience_lists(draw, grow_from):
    """Mostly growing prefixes of the ring order, sometimes arbitrary (invalid) subsets.

    A ring prefix of size len(order) + 1 stands for "everyone" (an empty list)."""
    out = {}
    for key, order in (("tenant_segments", SEGMENTS), ("regions", REGIONS), ("cohorts", COHORTS)):
        if draw(st.integers(0, 24)) == 0:
            out[key] = draw(st.lists(st.sampled_from(order), unique=True, max_size=len(order)))
            continue
        previous = grow_from.get(key)
        start = 1 if previous is None else (len(previous) or len(order) + 1)
        size = draw(st.integers(min_value=start, max_value=len(order) + 1))
        out[key] = list(order[:size]) if size <= len(order) else []
    return out


@st.composite
def plans(draw):
    n = draw(st.integers(min_value=2, max_value=5))
    percents = sorted(draw(st.sets(st.integers(1, 99), min_size=n - 1, max_size=n - 1)))
    if draw(st.integers(0, 9)) == 0:
        percents = draw(st.lists(st.integers(1, 100), min_size=n - 1, max_size=n - 1))
    plan, previous = [], {}  # the first stage may start anywhere
    for percent in [*percents, 100]:
        stage = {"percent": percent, "bake_minutes": draw(st.integers(1, 120))}
        stage.update(audience_lists(draw, previous))
        plan.append(stage)
        previous = stage
    plan[-1]["bake_minutes"] = 0
    return plan


step = st.fixed_dictionaries(
    {
        "minutes": st.integers(1, 300),
        "counts": st.fixed_dictionaries({m: st.integers(0, 3) for m in METRICS}),
        "bad": st.sampled_from([None] * 12 + ["breach", "severe"]),
        "resume": st.booleans(),
    }
)


def covers(later, earlier) -> bool:
    """`later`'s audience contains `earlier`'s (an empty list means everyone)."""
    for key in ("tenant_segments", "regions", "cohorts"):
        before, after = set(getattr(earlier, key)), set(getattr(later, key))
        if after and (not before or not before <= after):
            return False
    return True


@pytest.fixture
def no_window_rule(monkeypatch, select_guards):
    """Windows are their own property; here every instant may promote."""
    monkeypatch.setattr(sweeper, "next_promotion_at", lambda ticket, earliest: earliest)
    select_guards(
        ROLLOUT_GUARDS - {"promotion_is_inside_a_window_and_outside_freezes"}, on=["promote"]
    )


@st.composite
def ramps(draw):
    """A plan and the ticket's caps: mostly caps the plan fits, sometimes ones it breaks."""
    plan = draw(plans())
    widest_canary = max(stage["percent"] for stage in plan[:-1])
    fitting = draw(st.integers(0, 4)) > 0
    low = min(widest_canary, 100) if fitting else 1
    cap = draw(st.integers(low, 100))
    affected_share = draw(st.integers(low, 100))
    return plan, cap, affected_share


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ramp=ramps(),
    users_served=st.integers(1_000, 5_000_000),
    steps=st.lists(step, min_size=1, max_size=10),
)
def test_it_keeps_the_blast_radius_rules_whatever_the_plan_and_samples(
    author, release_manager, no_window_rule, ramp, users_served, steps
):
    plan, cap, affected_share = ramp
    TierPolicy.objects.update_or_create(
        tier="medium",
        defaults={"default_ramp": default_ramp_for("medium"), "min_samples_per_stage": MIN_SAMPLES},
    )
    feature = FeatureFactory(risk_tier="medium", users_served=users_served)
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        feature=feature,
        max_traffic_percent=cap,
        users_affected=users_served * affected_share // 100,
        state="scheduled",
    )
    ticket.ramp_stages.all().delete()
    for index, stage in enumerate(plan):
        RampStage.objects.create(ticket=ticket, index=index, **stage)
    problems = plan_problems(plan, ticket, RolloutPolicy.current().region_rings)

    now = WEDNESDAY_10
    with time_machine.travel(now, tick=False):
        if problems:
            with pytest.raises(TransitionRefused) as refused:
                ticket_transition(ticket, "start", acting_user=release_manager)
            assert refused.value.guard == "ramp_plan_is_valid"
            event("invalid plan refused at start")
            return
        ticket_transition(ticket, "start", acting_user=release_manager)

    last = len(plan) - 1
    guards = {g.metric: g for g in ticket.guards.all()}
    for move in steps:
        now += timedelta(minutes=move["minutes"])
        ticket.refresh_from_db()
        if ticket.state == "halted" and move["resume"]:
            with time_machine.travel(now, tick=False):
                for breach in Breach.objects.filter(ticket=ticket, acknowledged_at=None):
                    breach_acknowledge(breach, acting_user=release_manager, note="looked")
                ticket_transition(ticket, "resume", acting_user=release_manager)
        if ticket.state not in ("ramping", "halted"):
            break
        rows = []
        for metric, count in move["counts"].items():
            value = HEALTHY[metric]
            if move["bad"] and metric == "error_rate":
                guard = guards[metric]
                value = (
                    guard.severe_threshold * 2 if move["bad"] == "severe" else guard.threshold * 1.5
                )
            rows += [
                {"metric": metric, "value": value, "observed_at": now + timedelta(milliseconds=k)}
                for k in range(count)
            ]
        if rows:
            with time_machine.travel(now, tick=False):
                samples_record(ticket, acting_user=None, samples=rows)

        ramp = ticket.ramp
        ramp.refresh_from_db()
        before_index = ramp.current_index
        enough = not health.missing_samples(ticket, ramp)
        breached = health.worst_finding(ticket, ramp) is not None
        before_stage = ticket.ramp_stages.get(index=before_index)

        tick(now)

        ramp.refresh_from_db()
        after_stage = ticket.ramp_stages.get(index=ramp.current_index)
        assert ramp.current_index in (before_index, before_index + 1), "a stage was skipped"
        if ramp.current_index == before_index + 1:
            event("promoted")
            assert enough, "promoted without the minimum samples"
            assert not breached, "promoted over a breach"
        if ramp.current_index < last:
            assert after_stage.percent <= cap, "traffic over the cap before the last stage"
            users = users_served * after_stage.percent // 100
            assert users <= ticket.users_affected
        assert covers(after_stage, before_stage), "the audience shrank"
