"""Canary ramps: the stages a change walks through, the guards that watch it, the health samples
observability posts, and the breaches that stopped it (DESIGN.md, "Canary ramps and blast radius").
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from changemgmt.catalog.models import AIFeature, RiskTier
from changemgmt.tickets.models import ChangeTicket

from .promql import template_problems


class Metric(models.TextChoices):
    EVAL_SCORE_DRIFT = "eval_score_drift", "Eval-score drift"
    NEGATIVE_FEEDBACK_RATE = "negative_feedback_rate", "Negative-feedback rate"
    ERROR_RATE = "error_rate", "Error rate"
    LATENCY_P95_MS = "latency_p95_ms", "Latency p95 (ms)"


# Defaults when an admin has not written GuardPolicy rows: (threshold, severe threshold).
DEFAULT_THRESHOLDS = {
    Metric.EVAL_SCORE_DRIFT: (0.02, 0.05),
    Metric.NEGATIVE_FEEDBACK_RATE: (0.05, 0.10),
    Metric.ERROR_RATE: (0.02, 0.05),
    Metric.LATENCY_P95_MS: (2500.0, 5000.0),
}

DEFAULT_REGION_RINGS = [["AU", "CA"], ["EU"], ["US"]]


class SampleSource(models.TextChoices):
    PUSH = "push", "Pushed to the API"
    PROMETHEUS = "prometheus", "Scraped from Prometheus"


def prometheus_source_problems(source: str, query: str) -> dict:
    """Form errors of a guard's source and query ({} when they may be saved)."""
    if source != SampleSource.PROMETHEUS:
        return {}
    if not settings.PROMETHEUS_URL:
        return {"source": ["PROMETHEUS_URL is not set: only push guards are offered."]}
    problems = template_problems(query)
    return {"query": problems} if problems else {}


QUERY_HELP = (
    "PromQL for a Prometheus guard, one number per query; {change_id}, {feature}, {candidate} "
    'inside quoted label values (feature="{feature}"), {stage} and {percent} anywhere.'
)


class RolloutPolicy(models.Model):
    """Admin-editable ramp policy that is not per tier: the order regions are ramped through."""

    name = models.CharField(max_length=40, unique=True, default="default")
    region_rings = models.JSONField(
        default=list,
        help_text='Rings of region codes, smallest first: [["AU", "CA"], ["EU"], ["US"]]. '
        "A stage reaching a region must include every region of the rings before it.",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "rollout policy"

    def __str__(self):
        return f"rollout policy {self.name}"

    @classmethod
    def current(cls) -> "RolloutPolicy":
        return cls.objects.order_by("pk").first() or cls(region_rings=DEFAULT_REGION_RINGS)


class GuardPolicy(models.Model):
    """Per tier and metric: the thresholds copied onto each new ticket's guards."""

    tier = models.CharField(max_length=10, choices=RiskTier.choices)
    metric = models.CharField(max_length=30, choices=Metric.choices)
    threshold = models.FloatField(help_text="Above this value the ramp halts.")
    severe_threshold = models.FloatField(
        null=True, blank=True, help_text="Above this value the ramp rolls back (blank: never)."
    )
    observe_only = models.BooleanField(
        default=False, help_text="Measured and charted, never acting: trust a new metric first."
    )
    source = models.CharField(
        max_length=20, choices=SampleSource.choices, default=SampleSource.PUSH
    )
    query = models.TextField(blank=True, default="", help_text=QUERY_HELP)
    history = HistoricalRecords()

    class Meta:
        ordering = ["tier", "metric"]
        verbose_name_plural = "guard policies"
        constraints = [
            models.UniqueConstraint(fields=["tier", "metric"], name="one_guard_policy_per_metric")
        ]

    def __str__(self):
        return f"{self.tier} {self.metric} > {self.threshold:g}"

    def clean(self):
        problems = prometheus_source_problems(self.source, self.query)
        if problems:
            raise ValidationError(problems)

    @classmethod
    def for_tier(cls, tier: str) -> list["GuardPolicy"]:
        saved = {p.metric: p for p in cls.objects.filter(tier=tier)}
        rows = []
        for metric in Metric.values:
            threshold, severe = DEFAULT_THRESHOLDS[metric]
            rows.append(
                saved.get(metric)
                or cls(tier=tier, metric=metric, threshold=threshold, severe_threshold=severe)
            )
        return rows


class FeatureGuardTemplate(models.Model):
    """Policy data: a feature's own PromQL for one metric, over its tier's default guard."""

    feature = models.ForeignKey(AIFeature, on_delete=models.CASCADE, related_name="guard_templates")
    metric = models.CharField(max_length=30, choices=Metric.choices)
    query = models.TextField(help_text=QUERY_HELP)
    history = HistoricalRecords()

    class Meta:
        ordering = ["feature", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["feature", "metric"], name="one_guard_template_per_metric"
            )
        ]

    def __str__(self):
        return f"{self.feature.slug} {self.metric} (Prometheus)"

    def clean(self):
        problems = prometheus_source_problems(SampleSource.PROMETHEUS, self.query)
        if "source" in problems:  # this model has no source field: the query is what is refused
            problems = {"query": problems.pop("source") + problems.get("query", [])}
        if problems:
            raise ValidationError(problems)


class Guard(models.Model):
    """A ticket's own copy of a guard policy row: editable before approval, frozen after."""

    ticket = models.ForeignKey(ChangeTicket, on_delete=models.CASCADE, related_name="guards")
    metric = models.CharField(max_length=30, choices=Metric.choices)
    threshold = models.FloatField()
    severe_threshold = models.FloatField(null=True, blank=True)
    observe_only = models.BooleanField(default=False)
    source = models.CharField(
        max_length=20, choices=SampleSource.choices, default=SampleSource.PUSH
    )
    query = models.TextField(blank=True, default="", help_text=QUERY_HELP)
    history = HistoricalRecords()

    class Meta:
        ordering = ["ticket", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "metric"], name="one_guard_per_metric")
        ]

    def __str__(self):
        return f"{self.ticket.change_id} {self.metric} > {self.threshold:g}"

    @classmethod
    def from_policy(cls, ticket, policy, feature_query: str = "") -> "Guard":
        """The tier's default guard for `ticket` (unsaved), reading Prometheus when the feature
        has its own query for the metric or the tier's default does. Without PROMETHEUS_URL only
        push guards are made."""
        query = feature_query or (policy.query if policy.source == SampleSource.PROMETHEUS else "")
        prometheus = bool(query) and bool(settings.PROMETHEUS_URL)
        return cls(
            ticket=ticket,
            metric=policy.metric,
            threshold=policy.threshold,
            severe_threshold=policy.severe_threshold,
            observe_only=policy.observe_only,
            source=SampleSource.PROMETHEUS if prometheus else SampleSource.PUSH,
            query=query if prometheus else "",
        )

    @property
    def reads_prometheus(self) -> bool:
        return self.source == SampleSource.PROMETHEUS

    def measure(self, value: float) -> float:
        # Drift is a distance from the baseline: a drop and a jump are both drift.
        return abs(value) if self.metric == Metric.EVAL_SCORE_DRIFT else value

    def breaches(self, value: float) -> bool:
        return self.measure(value) > self.threshold

    def breaches_severely(self, value: float) -> bool:
        return self.severe_threshold is not None and self.measure(value) > self.severe_threshold


class RampStage(models.Model):
    """One stage of a ticket's plan. Empty audience lists mean "not restricted"."""

    ticket = models.ForeignKey(ChangeTicket, on_delete=models.CASCADE, related_name="ramp_stages")
    index = models.PositiveSmallIntegerField()
    percent = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    bake_minutes = models.PositiveIntegerField(default=0)
    tenant_segments = models.JSONField(default=list, blank=True)
    regions = models.JSONField(default=list, blank=True)
    cohorts = models.JSONField(default=list, blank=True)
    entered_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["ticket", "index"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "index"], name="one_stage_per_index")
        ]

    def __str__(self):
        return f"{self.ticket.change_id} stage {self.index + 1}: {self.percent}%"

    @property
    def bake(self) -> timedelta:
        return timedelta(minutes=self.bake_minutes)

    def audience(self) -> dict:
        return {
            "tenant_segments": list(self.tenant_segments),
            "regions": list(self.regions),
            "cohorts": list(self.cohorts),
        }


class Ramp(models.Model):
    """The ramp's position: which stage carries traffic, and since when its bake counts.

    `bake_started_at` is the stage's entry, or the last resume: after a halt the stage bakes again
    from the start, on samples taken after the resume (the breach window restarts with it).
    """

    ticket = models.OneToOneField(ChangeTicket, on_delete=models.CASCADE, related_name="ramp")
    current_index = models.SmallIntegerField(default=-1, help_text="-1 before start.")
    bake_started_at = models.DateTimeField(null=True, blank=True)
    inconclusive_notified_index = models.SmallIntegerField(null=True, blank=True)
    history = HistoricalRecords()

    def __str__(self):
        return f"{self.ticket.change_id} ramp at stage {self.current_index + 1}"


class HealthSample(models.Model):
    """A live health measurement posted by observability.

    No history: samples are immutable, high-volume measurements (never edited, one row per post);
    a history table would double every insert for nothing.

    Identity: (ticket, metric, observed_at, source), or the poster's `idempotency_key` when it
    sends one. A repeat is not a second observation: counted twice, a retried post would reach
    the minimum sample count on half the data.
    """

    ticket = models.ForeignKey(ChangeTicket, on_delete=models.CASCADE, related_name="samples")
    stage_index = models.SmallIntegerField()
    metric = models.CharField(max_length=30, choices=Metric.choices)
    value = models.FloatField()
    observed_at = models.DateTimeField()
    received_at = models.DateTimeField()
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    source = models.CharField(
        max_length=20, choices=SampleSource.choices, default=SampleSource.PUSH
    )
    idempotency_key = models.CharField(max_length=100, blank=True, default="")
    # A Prometheus sample keeps what was judged: the query as sent and the instant it evaluated.
    query = models.TextField(blank=True, default="")
    query_instant = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["observed_at", "id"]
        indexes = [models.Index(fields=["ticket", "stage_index", "metric", "observed_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "metric", "observed_at", "source"],
                condition=models.Q(idempotency_key=""),
                name="one_sample_per_observation",
            ),
            models.UniqueConstraint(
                fields=["ticket", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_sample_per_idempotency_key",
            ),
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.metric}={self.value:g} @ {self.observed_at:%Y-%m-%d %H:%M}"


class GuardProbe(models.Model):
    """How a Prometheus guard's queries are going: operational state, no history (the halt it
    leads to is recorded on the ticket with its reason). Reset by a success and by a resume."""

    guard = models.OneToOneField(Guard, on_delete=models.CASCADE, related_name="probe")
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    last_query_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.guard} probe: {self.consecutive_failures} failures"


class Breach(models.Model):
    """A guard threshold crossed during a stage: halted (or rolled back) the ramp."""

    ticket = models.ForeignKey(ChangeTicket, on_delete=models.CASCADE, related_name="breaches")
    stage = models.ForeignKey(RampStage, on_delete=models.PROTECT, related_name="breaches")
    metric = models.CharField(max_length=30, choices=Metric.choices)
    value = models.FloatField()
    threshold = models.FloatField()
    severe = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # The breaching sample's own times: a late sample acts when it arrives (health.acting_samples).
    observed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # What the release manager found and why resuming is safe: shown in the ticket's timeline.
    acknowledgement_note = models.TextField(blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "breaches"

    def __str__(self):
        return self.sentence()

    def sentence(self) -> str:
        return f"{self.metric} {self.value:g} > {self.threshold:g} at {self.stage.percent}% stage"
