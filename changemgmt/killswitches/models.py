"""Kill switches in three layers, the versioned gateway policy, gateway acks and game days.

A switch is *engaged* when the AI is off: feature `enabled: false`, model `disabled: true`,
tenant `ai_disabled: true` (DESIGN.md, "Kill-switch flip").
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from changemgmt.catalog.models import AIFeature, AIModel, Tenant

LAYERS = ("feature", "model", "tenant")


class KillSwitch(models.Model):
    """What the three layers share: an addressable path and a freshness date.

    Each layer says what its `key` is, what "engaged" (AI off) means for its own flag, and what
    users get instead (`fallback_label`)."""

    layer = ""
    last_exercised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["pk"]

    def __str__(self):
        return self.path

    @property
    def path(self) -> str:
        return f"{self.layer}:{self.key}"  # `key` is each layer's own identifier


class FeatureSwitch(KillSwitch):
    feature = models.OneToOneField(AIFeature, on_delete=models.PROTECT, related_name="kill_switch")
    enabled = models.BooleanField(default=True)
    fallback = models.CharField(max_length=120)
    history = HistoricalRecords()

    layer = "feature"

    @property
    def key(self) -> str:
        return self.feature.slug

    @property
    def engaged(self) -> bool:
        return not self.enabled

    def set_engaged(self, engaged: bool):
        self.enabled = not engaged

    @property
    def fallback_label(self) -> str:
        return self.fallback


class ModelSwitch(KillSwitch):
    model = models.OneToOneField(AIModel, on_delete=models.PROTECT, related_name="kill_switch")
    disabled = models.BooleanField(default=False)
    fallback_model = models.ForeignKey(
        AIModel, on_delete=models.PROTECT, related_name="fallback_for"
    )
    history = HistoricalRecords()

    layer = "model"

    def clean(self):
        if self.model_id and self.model_id == self.fallback_model_id:
            raise ValidationError({"fallback_model": "A model cannot fall back to itself."})

    @property
    def key(self) -> str:
        return self.model.model_id

    @property
    def engaged(self) -> bool:
        return self.disabled

    def set_engaged(self, engaged: bool):
        self.disabled = engaged

    @property
    def fallback_label(self) -> str:
        return self.fallback_model.model_id


class TenantSwitch(KillSwitch):
    tenant = models.OneToOneField(Tenant, on_delete=models.PROTECT, related_name="kill_switch")
    ai_disabled = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)
    expires = models.DateField(null=True, blank=True)
    # Set when the 7-day expiry warning went out, so it goes out once.
    warned_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    layer = "tenant"

    @property
    def key(self) -> str:
        return self.tenant.tenant_id

    @property
    def engaged(self) -> bool:
        return self.ai_disabled

    def set_engaged(self, engaged: bool):
        self.ai_disabled = engaged

    @property
    def fallback_label(self) -> str:
        return "AI off for this tenant"


class PolicyVersion(models.Model):
    """One row (pk=1): the monotonic version of the gateway policy, bumped under a row lock."""

    current = models.PositiveBigIntegerField(default=0)
    token = models.CharField(max_length=32, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    sections_at = models.PositiveBigIntegerField(
        default=0,
        help_text="The last version whose bump may have changed a registered section (ramps, "
        "live, canary exercises); a switch flip does not move it.",
    )
    # Not in the history: a hint for building documents (which are recorded), and a column added
    # to a recorded table would change the content hash of every history row written before it.
    history = HistoricalRecords(excluded_fields=["sections_at"])

    def __str__(self):
        return f"policy v{self.current}"


class PolicyDocument(models.Model):
    """The gateway policy as served for one version: built once, then only read."""

    version = models.PositiveBigIntegerField(unique=True)
    yaml_text = models.TextField()
    json_text = models.TextField()
    yaml_signature = models.CharField(max_length=200)
    json_signature = models.CharField(max_length=200)
    key_id = models.CharField(
        max_length=32, blank=True, help_text="Fingerprint of the signing key."
    )
    built_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]

    def __str__(self):
        return f"policy document v{self.version}"


class SigningKey(models.Model):
    """The Ed25519 key generated once when settings.GATEWAY_SIGNING_KEY is unset (pk=1)."""

    private_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"signing key {self.pk}"


class Gateway(models.Model):
    """A gateway name, bound by an admin to the account that may ack for it: a gateway credential
    cannot report for another gateway (the console and game days' time-to-kill trust acks)."""

    gateway_id = models.CharField(max_length=120, unique=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gateway_names",
        help_text="The gateway account that may ack as this name; unbound names are refused.",
    )
    acked_version = models.PositiveBigIntegerField(default=0)
    acked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["gateway_id"]

    def __str__(self):
        return self.gateway_id


class GatewayAck(models.Model):
    """Every ack a gateway sent: the record time-to-kill is measured from."""

    gateway = models.ForeignKey(Gateway, on_delete=models.PROTECT, related_name="acks")
    version = models.PositiveBigIntegerField()
    acked_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-acked_at"]
        indexes = [models.Index(fields=["gateway", "acked_at"])]

    def __str__(self):
        return f"{self.gateway_id} v{self.version}"


class GameDay(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        DONE = "done", "Done"

    quarter = models.CharField(max_length=7, unique=True, help_text="e.g. 2026-Q4")
    scheduled_for = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    reminded_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-scheduled_for"]

    def __str__(self):
        return f"game day {self.quarter}"


class Exercise(models.Model):
    """One switch exercised on a canary slice: flip, verify the fallback, restore."""

    game_day = models.ForeignKey(GameDay, on_delete=models.PROTECT, related_name="exercises")
    switch_path = models.CharField(max_length=200)
    canary_slice = models.CharField(
        max_length=120, help_text="A tenant id (tenant:<id>) or a percentage (5%)."
    )
    flipped_at = models.DateTimeField()
    flip_version = models.PositiveBigIntegerField(default=0)
    fallback_verified = models.BooleanField(null=True, blank=True)
    evidence = models.TextField(max_length=5000, blank=True)
    restored_at = models.DateTimeField(null=True, blank=True)
    time_to_kill_seconds = models.FloatField(null=True, blank=True)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-flipped_at"]

    def __str__(self):
        return f"{self.switch_path} @ {self.game_day.quarter}"

    @property
    def is_open(self) -> bool:
        return self.restored_at is None

    @property
    def result(self) -> str:
        if self.fallback_verified is None:
            return "in progress" if self.is_open else "not verified"
        return "pass" if self.fallback_verified else "fail"
