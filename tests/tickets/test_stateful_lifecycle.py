"""Random walks through the lifecycle as random personas (hypothesis stateful testing).

After every step: the state is a known State, a terminal state is never left, nothing is approved
without CAB quorum unless it is a pre-approved standard change or an exec's emergency approval,
the author never holds a vote, and change IDs are sequential within the year with no gaps.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from changemgmt import clock, roles
from changemgmt.audit.recording import system_user
from changemgmt.catalog.models import RiskTier
from changemgmt.tickets import rules, services
from changemgmt.tickets.models import (
    TERMINAL_STATES,
    TRANSITIONS,
    ChangeTicket,
    Decision,
    State,
    Vote,
)
from tests.factories import FeatureFactory, UserFactory
from tests.tickets.factories import ALL_TICKED, only_ticket_rules

PERSONAS = [
    "author",
    "super_author",
    "release_manager",
    "cab_platform",
    "cab_feature",
    "cab_risk",
    "cab_customer",
    "exec_approver",
    "outsider",
    "system",
]
FEATURES = ["low", "medium", "high", "medium_customer_facing"]


class LifecycleMachine(RuleBasedStateMachine):
    people: dict = {}
    features: dict = {}

    def __init__(self):
        super().__init__()
        # Each example runs in a savepoint rolled back at teardown: a fresh year of change IDs.
        self._example = transaction.atomic()
        self._example.__enter__()
        self.ticket_ids: list[int] = []
        self.last_state: dict[int, str] = {}
        self.approval_checked: set[int] = set()

    def teardown(self):
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)

    def _ticket(self, index):
        return ChangeTicket.objects.select_related("feature").get(
            pk=self.ticket_ids[index % len(self.ticket_ids)]
        )

    # A few tickets per walk, so the steps go deep into each lifecycle rather than filing more.
    @precondition(lambda self: len(self.ticket_ids) < 4)
    @rule(
        feature=st.sampled_from(FEATURES),
        author=st.sampled_from(["author", "super_author"]),
        complete=st.sampled_from([True, True, True, False]),
        emergency=st.sampled_from([False, False, True]),
    )
    def file(self, feature, author, complete, emergency):
        feature = self.features[feature]
        ticket = services.ticket_create(
            acting_user=self.people[author],
            data={
                "title": "Prompt change",
                "summary": "Handle the new product line",
                "feature": feature,
                "classification": "prompt",
                "release_manager": self.people["release_manager"],
                "rollback_plan": (
                    "1. Flip the feature kill switch. 2. Re-pin the previous prompt version."
                    if complete
                    else "revert"
                ),
                "kill_switch": f"feature:{feature.slug}",
                "users_affected": 1000,
                "regions": ["US"],
                "pr_url": "https://git.example.com/ai/pull/1",
                "prompt_version": "assistant@42",
                "risk_review_ticket": "AIRR-1",
                "bridge_url": "https://meet.example.com/rel",
                "paging_list": ["ai-oncall@example.com"],
                "emergency": emergency,
                "emergency_justification": "Public jailbreak." if emergency else "",
            },
            eval_deltas=[{"metric": "groundedness", "baseline": 0.8, "candidate": 0.81}],
        )
        self.ticket_ids.append(ticket.pk)

    def _take(self, ticket, name, who, with_input, final):
        params = {}
        if with_input and name == "schedule":
            params["planned_start"] = clock.now() + timedelta(days=1)
        if with_input and name == "close":
            params["review_notes"] = "Post-deploy review: metrics held."
        if name == "promote":
            params["final"] = final
        try:
            services.ticket_transition(
                ticket,
                name,
                acting_user=self.people[who],
                reason="because" if with_input else "",
                **params,
            )
        except (PermissionDenied, services.TransitionRefused):
            return
        event(f"{name} taken")  # how deep the walks go (counted when debugging the test)

    @precondition(lambda self: self.ticket_ids)
    @rule(
        index=st.integers(0, 30),
        name=st.sampled_from(TRANSITIONS),
        who=st.sampled_from(PERSONAS),
        with_input=st.booleans(),
        final=st.booleans(),
    )
    def anyone_tries_anything(self, index, name, who, with_input, final):
        self._take(self._ticket(index), name, who, with_input, final)

    @precondition(lambda self: self.ticket_ids)
    @rule(index=st.integers(0, 30), final=st.booleans(), data=st.data())
    def someone_who_may_moves_it_on(self, index, final, data):
        # Random personas rarely hold the right role for the state: pick among the moves the state
        # and the roles allow, so the walks reach scheduling, ramps and closing.
        ticket = self._ticket(index)
        moves = []
        for name in TRANSITIONS:
            meta = getattr(ticket, name)._django_fsm
            if meta.has_transition(ticket.state):
                moves += [
                    (name, who)
                    for who in PERSONAS
                    if meta.has_transition_perm(ticket, ticket.state, self.people[who])
                ]
        # Cancelling is open from four states to two roles; weight the moves that go forward.
        moves += [move for move in moves if move[0] not in ("cancel", "withdraw")] * 3
        if moves:
            name, who = data.draw(st.sampled_from(moves))
            self._take(ticket, name, who, True, final)

    @precondition(lambda self: self.ticket_ids)
    @rule(
        index=st.integers(0, 30),
        who=st.sampled_from([*roles.CAB_SEATS, *roles.CAB_SEATS, *PERSONAS]),
        decision=st.sampled_from([Decision.APPROVE, Decision.APPROVE, *Decision.values]),
        ticked=st.sampled_from([True, True, False]),
        commented=st.booleans(),
    )
    def vote(self, index, who, decision, ticked, commented):
        ticket = self._ticket(index)
        try:
            services.vote_cast(
                ticket,
                acting_user=self.people[who],
                decision=decision,
                comment="Needs a sharper rollback plan." if commented else "",
                checklist=ALL_TICKED if ticked else {},
            )
        except (PermissionDenied, services.TransitionRefused, services.VoteRefused):
            return
        event(f"{decision} vote recorded")

    @invariant()
    def lifecycle_invariants_hold(self):
        # One pass over the tickets per step (the walk must stay well under a minute).
        tickets = list(ChangeTicket.objects.filter(pk__in=self.ticket_ids))
        for ticket in tickets:
            self.state_is_known_and_terminal_states_are_never_left(ticket)
            if ticket.approved_at and ticket.pk not in self.approval_checked:
                self.approval_had_quorum_unless_standard_or_emergency(ticket)
                # The approval is history: it cannot change after this, so check it once.
                self.approval_checked.add(ticket.pk)
        assert not Vote.objects.filter(
            ticket_id__in=self.ticket_ids, voter_id=F("ticket__author_id")
        ).exists(), "the author voted"
        self.change_ids_are_sequential_within_the_year_without_gaps(tickets)

    def state_is_known_and_terminal_states_are_never_left(self, ticket):
        assert ticket.state in State.values
        before = self.last_state.get(ticket.pk)
        if before in TERMINAL_STATES:
            assert ticket.state == before, f"{ticket.change_id} left {before}"
        self.last_state[ticket.pk] = ticket.state

    def approval_had_quorum_unless_standard_or_emergency(self, ticket):
        approval = ticket.history.filter(state=State.APPROVED).order_by("history_id").first()
        how = approval.history_change_reason.split(":")[0]
        if how == "submit":
            assert ticket.standard_change and ticket.risk_tier == RiskTier.LOW
        elif how == "emergency_approve":
            approver = approval.history_user
            assert ticket.emergency and ticket.emergency_justification
            assert approver.groups.filter(name="exec_approver").exists()
            assert approver.pk != ticket.author_id
        else:
            assert how == "approve" and approval.history_user.username == "changemgmt-system"
            assert rules.quorum_missing_seats(ticket) == []
            assert rules.no_voter_is_the_author(ticket) is None

    def change_ids_are_sequential_within_the_year_without_gaps(self, tickets):
        year = clock.now().year
        ids = sorted(ticket.change_id for ticket in tickets)
        assert ids == [f"CHG-{year}-{n:05d}" for n in range(1, len(self.ticket_ids) + 1)]


@pytest.mark.django_db
def test_it_keeps_the_lifecycle_invariants_under_random_walks(select_guards):
    only_ticket_rules(select_guards)
    people = {
        role: UserFactory(username=role, roles=[role])
        for role in PERSONAS
        if role not in ("super_author", "system", "outsider")
    }
    people["super_author"] = UserFactory(
        username="super_author",
        roles=["author", "cab_platform", "exec_approver"],
        is_superuser=True,
        is_staff=True,
    )
    people["outsider"] = UserFactory(username="outsider")
    people["system"] = system_user()
    LifecycleMachine.people = people
    LifecycleMachine.features = {
        "low": FeatureFactory(slug="low-feature", risk_tier="low"),
        "medium": FeatureFactory(slug="medium-feature", risk_tier="medium"),
        "high": FeatureFactory(slug="high-feature", risk_tier="high"),
        "medium_customer_facing": FeatureFactory(
            slug="customer-feature", risk_tier="medium", customer_facing=True
        ),
    }
    run_state_machine_as_test(
        LifecycleMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            database=None,
            # No shrinking: a failure prints its steps at once instead of minutes later in CI.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
