"""Random walks through the lifecycle as random personas (hypothesis stateful testing).

After every step: the state is a known State, a terminal state is never left, nothing is approved
without CAB quorum unless it is a pre-approved standard change or an exec's emergency approval,
the author never holds a vote, and change IDs are sequential within the year with no gaps.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from changemgmt import clock
from changemgmt.audit.recording import system_user
from changemgmt.catalog.models import RiskTier
from changemgmt.tickets import rules, services
from changemgmt.tickets.models import TERMINAL_STATES, TRANSITIONS, ChangeTicket, Decision, State
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

    def teardown(self):
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)

    def _ticket(self, index):
        return ChangeTicket.objects.select_related("feature").get(
            pk=self.ticket_ids[index % len(self.ticket_ids)]
        )

    @rule(
        feature=st.sampled_from(FEATURES),
        author=st.sampled_from(["author", "super_author"]),
        complete=st.booleans(),
        emergency=st.booleans(),
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

    @precondition(lambda self: self.ticket_ids)
    @rule(
        index=st.integers(0, 30),
        name=st.sampled_from(TRANSITIONS),
        who=st.sampled_from(PERSONAS),
        with_input=st.booleans(),
        final=st.booleans(),
    )
    def transition(self, index, name, who, with_input, final):
        ticket = self._ticket(index)
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
            pass

    @precondition(lambda self: self.ticket_ids)
    @rule(
        index=st.integers(0, 30),
        who=st.sampled_from(PERSONAS),
        decision=st.sampled_from(Decision.values),
        ticked=st.booleans(),
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
            pass

    @invariant()
    def states_are_known_and_terminal_states_are_never_left(self):
        for ticket in ChangeTicket.objects.filter(pk__in=self.ticket_ids):
            assert ticket.state in State.values
            before = self.last_state.get(ticket.pk)
            if before in TERMINAL_STATES:
                assert ticket.state == before, f"{ticket.change_id} left {before}"
            self.last_state[ticket.pk] = ticket.state

    @invariant()
    def nothing_is_approved_without_quorum_unless_standard_or_emergency(self):
        for ticket in ChangeTicket.objects.filter(
            pk__in=self.ticket_ids, approved_at__isnull=False
        ):
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

    @invariant()
    def the_author_never_votes(self):
        for ticket in ChangeTicket.objects.filter(pk__in=self.ticket_ids):
            assert not ticket.votes.filter(voter_id=ticket.author_id).exists()

    @invariant()
    def change_ids_are_sequential_within_the_year_without_gaps(self):
        year = clock.now().year
        ids = sorted(
            ChangeTicket.objects.filter(pk__in=self.ticket_ids).values_list("change_id", flat=True)
        )
        assert ids == [f"CHG-{year}-{n:05d}" for n in range(1, len(self.ticket_ids) + 1)]


@pytest.mark.django_db
def test_it_keeps_the_lifecycle_invariants_under_random_walks(monkeypatch):
    only_ticket_rules(monkeypatch)
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
