"""Random walks through ramps (hypothesis stateful testing), the lifecycle's walk carried on past
`start` (tests/tickets/test_stateful_lifecycle.py walks filing, the CAB and scheduling).

Three scheduled tickets on one feature, under the clock the walk moves: starts (and conflicting
starts on the same feature), samples arriving on time or late, healthy or breaching, sweeper
ticks, promote-now, halt, acknowledge and resume, roll back. After every step: never two active
ramps on one feature, never a promotion with a breaching sample on record for the stage it left,
never a stage before the last above the ticket's cap.
"""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import transaction
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from changemgmt.catalog.models import TierPolicy, default_ramp_for
from changemgmt.rollouts import sweeper
from changemgmt.rollouts.models import Breach, HealthSample
from changemgmt.rollouts.services import breach_acknowledge, rollout_promote_now, samples_record
from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket
from changemgmt.tickets.services import TransitionRefused, ticket_transition
from tests.factories import FeatureFactory, TicketFactory
from tests.rollouts.conftest import HEALTHY, METRICS, ROLLOUT_GUARDS, WEDNESDAY_10

CAPS = (50, 5, 20)  # one ticket per cap: the default plan fitted to each
CONFLICT_GUARD = "no_other_ramp_on_the_feature_or_kill_switch"


class RampMachine(RuleBasedStateMachine):
    release_manager = None
    feature = None

    def __init__(self):
        super().__init__()
        self._example = transaction.atomic()
        self._example.__enter__()
        self.now = WEDNESDAY_10
        self.tickets = [
            TicketFactory(
                feature=self.feature,
                release_manager=self.release_manager,
                users_affected=self.feature.users_served,
                max_traffic_percent=cap,
                state="scheduled",
                planned_start=WEDNESDAY_10,
            ).pk
            for cap in CAPS
        ]
        self.positions = self._positions()

    def teardown(self):
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)

    def _ticket(self, index) -> ChangeTicket:
        return ChangeTicket.objects.select_related("ramp").get(pk=self.tickets[index])

    def _active(self) -> bool:
        return ChangeTicket.objects.filter(
            pk__in=self.tickets, state__in=ACTIVE_RAMP_STATES
        ).exists()

    def _active_index(self) -> int:
        """The ticket that ramps (or is halted): the one the release manager steers."""
        active = ChangeTicket.objects.filter(pk__in=self.tickets, state__in=ACTIVE_RAMP_STATES)
        return self.tickets.index(active.values_list("pk", flat=True).first())

    def _positions(self) -> dict:
        return {
            pk: (ramp.current_index, ramp.bake_started_at)
            for pk, ramp in ((t.pk, t.ramp) for t in map(self._ticket, range(len(self.tickets))))
        }

    def _transition(self, index, name, **kwargs):
        with time_machine.travel(self.now, tick=False):
            try:
                ticket_transition(
                    self._ticket(index), name, acting_user=self.release_manager, **kwargs
                )
            except (TransitionRefused, PermissionDenied) as refused:
                event(f"{name} refused: {getattr(refused, 'guard', 'role')}")
                return
        event(f"{name} taken")

    @rule(index=st.integers(0, len(CAPS) - 1))
    def start(self, index):
        self._transition(index, "start")

    @precondition(lambda self: self._active())
    @rule(
        late_minutes=st.sampled_from([0, 0, 0, 5, 40]),
        bad=st.sampled_from([None, None, None, "breach", "severe"]),
        count=st.integers(3, 5),
    )
    def samples_arrive(self, late_minutes, bad, count):
        ticket = self._ticket(self._active_index())
        if ticket.state not in ACTIVE_RAMP_STATES:
            return
        observed = self.now - timedelta(minutes=late_minutes)
        guards = {g.metric: g for g in ticket.guards.all()}
        rows = []
        for metric in METRICS:
            value = HEALTHY[metric]
            if bad and metric == "error_rate":
                guard = guards[metric]
                value = guard.severe_threshold * 2 if bad == "severe" else guard.threshold * 1.5
            rows += [
                {"metric": metric, "value": value, "observed_at": observed + timedelta(seconds=k)}
                for k in range(count)
            ]
        with time_machine.travel(self.now + timedelta(seconds=30), tick=False):
            try:
                samples_record(ticket, acting_user=None, samples=rows)
            except Exception as refused:  # observed before the ramp started: refused whole
                event(f"samples refused: {type(refused).__name__}")
                return
        event("late samples" if late_minutes else "samples")

    @precondition(lambda self: self._active())
    @rule(minutes=st.sampled_from([30, 240, 1440]))
    def a_healthy_bake_passes(self, minutes):
        # Random steps rarely line up samples, bake and tick: this one does, so walks promote.
        self.samples_arrive(0, None, 3)
        self.time_passes_and_the_sweeper_ticks(minutes)

    @rule(minutes=st.sampled_from([1, 10, 30, 90, 240, 1500]))
    def time_passes_and_the_sweeper_ticks(self, minutes):
        self.now += timedelta(minutes=minutes)
        with time_machine.travel(self.now, tick=False):
            sweeper.advance_all(self.now)

    @precondition(lambda self: self._active())
    @rule()
    def promote_now(self):
        with time_machine.travel(self.now, tick=False):
            try:
                ticket = self._ticket(self._active_index())
                rollout_promote_now(ticket, acting_user=self.release_manager)
            except TransitionRefused as refused:
                event(f"promote now refused: {refused.guard}")

    @precondition(lambda self: self._active())
    @rule()
    def halt(self):
        self._transition(self._active_index(), "halt", reason="the bridge asked")

    @precondition(lambda self: self._active())
    @rule(acknowledge=st.booleans())
    def resume(self, acknowledge):
        index = self._active_index()
        if acknowledge:
            with time_machine.travel(self.now, tick=False):
                for breach in Breach.objects.filter(
                    ticket_id=self.tickets[index], acknowledged_at=None
                ):
                    breach_acknowledge(breach, acting_user=self.release_manager, note="looked")
        self._transition(index, "resume", reason="fixed")

    @precondition(lambda self: self._active())
    @rule()
    def roll_back(self):
        self._transition(self._active_index(), "roll_back", reason="the bridge asked")

    @invariant()
    def never_two_active_ramps_on_one_feature(self):
        active = ChangeTicket.objects.filter(pk__in=self.tickets, state__in=ACTIVE_RAMP_STATES)
        assert active.count() <= 1, list(active.values_list("change_id", "state"))

    @invariant()
    def never_a_promotion_over_a_breach_nor_a_canary_over_the_cap(self):
        positions = self._positions()
        for index, pk in enumerate(self.tickets):
            ticket = self._ticket(index)
            stages = list(ticket.ramp_stages.order_by("index"))
            current, _ = positions[pk]
            if 0 <= current < len(stages) - 1:
                assert stages[current].percent <= ticket.max_traffic_percent, "over the cap"
            before, bake_started_at = self.positions[pk]
            if current > before >= 0:
                event("promoted")
                left = stages[before]
                guards = {g.metric: g for g in ticket.guards.filter(observe_only=False)}
                on_record = HealthSample.objects.filter(
                    ticket=ticket,
                    observed_at__gte=bake_started_at,
                    received_at__lte=left.completed_at,
                )
                breaching = [
                    s
                    for s in on_record
                    if s.metric in guards and guards[s.metric].breaches(s.value)
                ]
                assert not breaching, f"promoted out of {left} over {breaching[0]}"
        self.positions = positions


@pytest.fixture
def only_ramp_guards(select_guards):
    """(Overrides the folder's autouse fixture.) The ramp's own guards and the conflict rule;
    windows and kill-switch freshness have their own tests, and here every instant may promote."""
    select_guards(
        (ROLLOUT_GUARDS - {"promotion_is_inside_a_window_and_outside_freezes"}) | {CONFLICT_GUARD},
        on=("start", "promote", "resume"),
    )


@pytest.mark.django_db
def test_it_keeps_the_ramp_invariants_under_random_walks(monkeypatch, release_manager):
    monkeypatch.setattr(sweeper, "next_promotion_at", lambda ticket, earliest: earliest)
    # A few samples per stage, so the walks promote (and meet breaches) within 20 steps.
    TierPolicy.objects.update_or_create(
        tier="medium",
        defaults={"default_ramp": default_ramp_for("medium"), "min_samples_per_stage": 3},
    )
    RampMachine.release_manager = release_manager
    RampMachine.feature = FeatureFactory(
        slug="support-assistant", risk_tier="medium", users_served=4_000_000
    )
    run_state_machine_as_test(
        RampMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
