import hashlib
import json

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMModelMixin, transition
from simple_history.models import HistoricalRecords

from changemgmt import clock
from changemgmt.catalog.models import AIFeature, RiskTier
from changemgmt.fsm import FSMField, SafeRefreshMixin

from . import rules, transition_table

# Django registers the counter model from here; the ticket code imports both names from models.
from .change_ids import ChangeIdCounter, next_change_id  # noqa: F401
from .guards import ExtensionGuards, guard


class State(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    SCHEDULED = "scheduled", "Scheduled"
    RAMPING = "ramping", "Ramping"
    HALTED = "halted", "Halted"
    DEPLOYED = "deployed", "Deployed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    CLOSED = "closed", "Closed"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_STATES = {State.CLOSED, State.REJECTED, State.CANCELLED}
EDITABLE_STATES = {State.DRAFT}
ACTIVE_RAMP_STATES = {State.RAMPING, State.HALTED}


class Classification(models.TextChoices):
    CONFIG = "config", "Config change"
    PROMPT = "prompt", "Prompt change"
    MODEL_SWAP = "model_swap", "Model swap"
    RETRIEVAL_INDEX = "retrieval_index", "Retrieval-index change"
    SCHEMA = "schema", "Schema change"


# Fields that make up the ticket's content: frozen after approval, hashed into the fingerprint.
CONTENT_FIELDS = (
    "title",
    "summary",
    "feature_id",
    "release_manager_id",
    "risk_tier",
    "classification",
    "rollback_plan",
    "kill_switch",
    "users_affected",
    "regions",
    "max_traffic_percent",
    "pr_url",
    "prompt_version",
    "candidate_model",
    "model_card_url",
    "risk_review_ticket",
    "bridge_url",
    "bridge",
    "paging_list",
    "emergency",
    "emergency_justification",
    "eval_regression_justification",
)


class ChangeTicket(SafeRefreshMixin, ConcurrentTransitionMixin, models.Model):
    change_id = models.CharField(max_length=16, unique=True, editable=False)
    title = models.CharField(max_length=200)
    summary = models.TextField(max_length=5000)
    feature = models.ForeignKey(AIFeature, on_delete=models.PROTECT, related_name="tickets")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authored_tickets"
    )
    release_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="managed_tickets",
        null=True,
        blank=True,
    )
    risk_tier = models.CharField(max_length=10, choices=RiskTier.choices)
    classification = models.CharField(max_length=20, choices=Classification.choices)

    rollback_plan = models.TextField(max_length=5000, blank=True)
    kill_switch = models.CharField(
        max_length=200, blank=True, help_text="feature:<slug>, model:<id> or tenant:<id>"
    )

    # Blast radius.
    users_affected = models.PositiveBigIntegerField(default=0)
    regions = models.JSONField(default=list, blank=True)
    max_traffic_percent = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    # Linked artifacts.
    pr_url = models.URLField(max_length=500, blank=True)
    prompt_version = models.CharField(max_length=120, blank=True)
    candidate_model = models.CharField(max_length=120, blank=True)
    model_card_url = models.URLField(max_length=500, blank=True)
    risk_review_ticket = models.CharField(max_length=60, blank=True)

    # Release window.
    planned_start = models.DateTimeField(null=True, blank=True)
    slot_ends_at = models.DateTimeField(null=True, blank=True)
    bridge_url = models.URLField(max_length=500, blank=True)
    bridge = models.JSONField(default=list, blank=True, help_text="Usernames on the bridge.")
    paging_list = models.JSONField(default=list, blank=True, help_text="Addresses paged.")

    emergency = models.BooleanField(default=False)
    emergency_justification = models.TextField(max_length=5000, blank=True)
    eval_regression_justification = models.TextField(max_length=5000, blank=True)

    state = FSMField(default=State.DRAFT, choices=State.choices, protected=True)
    cab_round = models.PositiveIntegerField(default=1)
    standard_change = models.BooleanField(default=False)
    retrospective_due = models.BooleanField(default=False)
    approved_fingerprint = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    # Set by `emergency_approve` only: what unlocks "any time" for an emergency change. Kept out of
    # the ticket's history on purpose: a new column on the history table would change the content
    # hash of every history row recorded before it (audit.chain). The approval itself is in the
    # history (the row saved with reason "emergency_approve…", retrospective_due set).
    emergency_approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    halted_at = models.DateTimeField(null=True, blank=True)
    deployed_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    last_reason = models.TextField(max_length=5000, blank=True)
    review_notes = models.TextField(max_length=10000, blank=True)
    metrics_held = models.BooleanField(null=True, blank=True)

    history = HistoricalRecords(
        bases=[SafeRefreshMixin, FSMModelMixin, models.Model],
        excluded_fields=["emergency_approved_at"],
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "created_at"]),
            # The ticket list's order, and the dashboard's 90-day process numbers.
            models.Index(fields=["-created_at", "-id"], name="ticket_newest_first"),
            models.Index(fields=["submitted_at"], name="ticket_submitted_at"),
            models.Index(fields=["approved_at"], name="ticket_approved_at"),
            models.Index(fields=["started_at"], name="ticket_started_at"),
            models.Index(fields=["deployed_at"], name="ticket_deployed_at"),
        ]

    def __str__(self):
        return f"{self.change_id} {self.title}"

    # ----- derived -----
    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def is_editable(self) -> bool:
        return self.state in EDITABLE_STATES

    def fingerprint(self) -> str:
        """A hash of the ticket's content: what the CAB approved is what starts."""
        content = {name: getattr(self, name) for name in CONTENT_FIELDS}
        content["eval_deltas"] = [
            [d.metric, d.baseline, d.candidate, d.higher_is_better]
            for d in self.eval_deltas.order_by("metric", "id")
        ]
        blob = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    # ----- lifecycle (DESIGN.md, "Lifecycle"). Permission and guards are checked by services. -----
    @transition(
        field=state,
        source=State.DRAFT,
        target=RETURN_VALUE(State.SUBMITTED, State.APPROVED),
        conditions=[
            guard(rules.ticket_is_complete),
            guard(rules.high_tier_has_independent_release_manager),
            guard(rules.eval_regressions_are_justified),
            ExtensionGuards("submit"),
        ],
        permission=rules.may_submit,
    )
    def submit(self):
        now = clock.now()
        self.submitted_at = now
        if self.risk_tier == RiskTier.LOW:
            # Pre-approved standard change: Low tier skips the CAB (the article's "let the small
            # ones move fast").
            self.standard_change = True
            self._mark_approved(now)
            return State.APPROVED
        return State.SUBMITTED

    @transition(
        field=state, source=State.SUBMITTED, target=State.DRAFT, permission=rules.may_withdraw
    )
    def withdraw(self):
        self.cab_round += 1  # votes of the old round no longer count

    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.APPROVED,
        conditions=[
            guard(rules.cab_quorum_has_approved),
            guard(rules.no_voter_is_the_author),
            guard(rules.every_checklist_item_ticked),
        ],
        permission=rules.is_system_actor,
    )
    def approve(self):
        self._mark_approved(clock.now())

    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.DRAFT,
        conditions=[guard(rules.reason_is_given)],
        permission=rules.may_vote,
    )
    def request_changes(self):
        self.cab_round += 1

    @transition(
        field=state,
        source=State.SUBMITTED,
        target=State.REJECTED,
        conditions=[guard(rules.reason_is_given)],
        permission=rules.may_vote,
    )
    def reject(self):
        pass

    @transition(
        field=state,
        source=[State.DRAFT, State.SUBMITTED],
        target=State.APPROVED,
        conditions=[
            guard(rules.emergency_is_flagged_and_justified),
            guard(rules.ticket_is_complete),
            # The exec's own reason, beside the author's justification: why approve now (issue 16).
            guard(rules.reason_is_given),
            ExtensionGuards("emergency_approve"),
        ],
        permission=rules.may_emergency_approve,
    )
    def emergency_approve(self):
        now = clock.now()
        self.submitted_at = self.submitted_at or now
        self.emergency_approved_at = now
        self.retrospective_due = True
        self._mark_approved(now)

    @transition(
        field=state,
        source=[State.APPROVED, State.SCHEDULED],  # from scheduled: move the slot
        target=State.SCHEDULED,
        conditions=[guard(rules.planned_start_is_set), ExtensionGuards("schedule")],
        permission=rules.may_release,
    )
    def schedule(self):
        pass

    @transition(
        field=state,
        source=State.SCHEDULED,
        target=State.RAMPING,
        conditions=[guard(rules.ticket_unchanged_since_approval), ExtensionGuards("start")],
        permission=rules.may_release,
    )
    def start(self):
        self.started_at = clock.now()

    @transition(
        field=state,
        source=State.RAMPING,
        target=RETURN_VALUE(State.RAMPING, State.DEPLOYED),
        conditions=[ExtensionGuards("promote")],
        permission=rules.may_release_or_system,
    )
    def promote(self, *, final: bool = False):
        if final:
            self.deployed_at = clock.now()
            return State.DEPLOYED
        return State.RAMPING

    @transition(
        field=state,
        source=State.RAMPING,
        target=State.HALTED,
        conditions=[guard(rules.reason_is_given)],
        permission=rules.may_release_or_system,
    )
    def halt(self):
        self.halted_at = clock.now()

    @transition(
        field=state,
        source=State.HALTED,
        target=State.RAMPING,
        conditions=[ExtensionGuards("resume")],
        permission=rules.may_release,
    )
    def resume(self):
        self.halted_at = None

    @transition(
        field=state,
        source=[State.RAMPING, State.HALTED, State.DEPLOYED],
        target=State.ROLLED_BACK,
        conditions=[guard(rules.reason_is_given)],
        permission=rules.may_release_or_system,
    )
    def roll_back(self):
        self.rolled_back_at = clock.now()

    @transition(
        field=state,
        source=[State.DEPLOYED, State.ROLLED_BACK],
        target=State.CLOSED,
        conditions=[guard(rules.review_notes_are_written)],
        permission=rules.may_release,
    )
    def close(self):
        self.closed_at = clock.now()

    @transition(
        field=state,
        source=[State.DRAFT, State.SUBMITTED, State.APPROVED, State.SCHEDULED],
        target=State.CANCELLED,
        conditions=[guard(rules.reason_is_given)],
        permission=rules.may_cancel,
    )
    def cancel(self):
        pass

    def _mark_approved(self, now):
        self.approved_at = now
        self.approved_fingerprint = self.fingerprint()


# The transitions, in the table's order (transition_table.py declares each one).
TRANSITIONS = transition_table.TRANSITIONS


# Rows one ticket may carry, on the page and over the API alike.
MAX_EVAL_ROWS = 50


class EvalDelta(models.Model):
    """One row of the eval-results delta vs the deployed version; the delta is derived."""

    ticket = models.ForeignKey(ChangeTicket, on_delete=models.CASCADE, related_name="eval_deltas")
    metric = models.CharField(max_length=80)
    baseline = models.FloatField()
    candidate = models.FloatField()
    higher_is_better = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["metric", "id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "metric"], name="one_row_per_metric")
        ]

    def __str__(self):
        return f"{self.metric}: {self.baseline} → {self.candidate}"

    @property
    def delta(self) -> float:
        return round(self.candidate - self.baseline, 10)

    @property
    def relative_percent(self) -> float | None:
        """The change relative to the baseline, in percent (+1.2 for 0.812 -> 0.822); people
        read eval moves this way. None when the baseline is 0 (no relative change exists)."""
        if not self.baseline:
            return None
        return round(self.delta / abs(self.baseline) * 100, 4)

    @property
    def regression(self) -> float:
        """How much worse the candidate is (0 when it is not worse)."""
        worse_by = -self.delta if self.higher_is_better else self.delta
        return max(0.0, worse_by)


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REQUEST_CHANGES = "request_changes", "Request changes"
    REJECT = "reject", "Reject"


CHECKLIST_ITEMS = {
    "ticket_complete": "The change ticket is complete",
    "rollback_plan_real": "The rollback plan is real (specific steps)",
    "kill_switch_current": "The kill switch is current",
    "window_appropriate": "The release window is appropriate",
    "blast_radius_sized": "The blast radius is sized correctly",
}


class Vote(models.Model):
    """A CAB seat's vote in one review round of a ticket (rounds restart on withdraw)."""

    ticket = models.ForeignKey(ChangeTicket, on_delete=models.PROTECT, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    seat = models.CharField(max_length=20)
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(max_length=5000, blank=True)
    checklist = models.JSONField(default=dict)
    round = models.PositiveIntegerField()
    retrospective = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.ticket.change_id} {self.seat} {self.decision}"

    @property
    def checklist_complete(self) -> bool:
        return all(self.checklist.get(item) is True for item in CHECKLIST_ITEMS)
