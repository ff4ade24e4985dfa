from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

slug_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9._-]*$", "Lower-case letters, digits, '.', '_' or '-'."
)


class RiskTier(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"

    @classmethod
    def rank(cls, tier: str) -> int:
        return [cls.LOW, cls.MEDIUM, cls.HIGH].index(tier)


class Segment(models.TextChoices):
    """Tenant segment rings, in the order a ramp must widen through them."""

    INTERNAL = "internal", "Internal"
    DESIGN_PARTNER = "design_partner", "Design partner"
    SELF_SERVICE = "self_service", "Self-service"
    ENTERPRISE = "enterprise", "Enterprise"

    @classmethod
    def order(cls) -> list[str]:
        return [cls.INTERNAL, cls.DESIGN_PARTNER, cls.SELF_SERVICE, cls.ENTERPRISE]


class Team(models.Model):
    """An owning team: a feature's owner team may flip its kill switch."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    history = HistoricalRecords(m2m_fields=[members])

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.name


class AIFeature(models.Model):
    slug = models.CharField(max_length=80, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    owner_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="features")
    risk_tier = models.CharField(max_length=10, choices=RiskTier.choices, default=RiskTier.MEDIUM)
    customer_facing = models.BooleanField(default=False)
    users_served = models.PositiveBigIntegerField(default=0)
    fallback = models.CharField(
        max_length=120, help_text="What users get when the AI is off, e.g. keyword-search-v3."
    )
    regions = models.JSONField(default=list, blank=True, help_text="Region codes served.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]
        verbose_name = "AI feature"

    def __str__(self):
        return self.slug


class AIModel(models.Model):
    model_id = models.CharField(max_length=120, unique=True, validators=[slug_validator])
    provider = models.CharField(max_length=60)
    history = HistoricalRecords()

    class Meta:
        ordering = ["model_id"]
        verbose_name = "model"

    def __str__(self):
        return self.model_id


class Tenant(models.Model):
    tenant_id = models.CharField(max_length=120, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200, blank=True)
    segment = models.CharField(max_length=20, choices=Segment.choices, default=Segment.ENTERPRISE)
    region = models.CharField(max_length=8, default="US")
    history = HistoricalRecords()

    class Meta:
        ordering = ["tenant_id"]

    def __str__(self):
        return self.tenant_id


class Cohort(models.Model):
    slug = models.CharField(max_length=60, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=120)
    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.slug


def default_ramp_for(tier: str) -> list[dict]:
    if tier == RiskTier.LOW:
        return [{"percent": 10, "bake_minutes": 30}, {"percent": 100, "bake_minutes": 0}]
    return [
        {"percent": 1, "bake_minutes": 30},
        {"percent": 10, "bake_minutes": 240},
        {"percent": 50, "bake_minutes": 1440},
        {"percent": 100, "bake_minutes": 0},
    ]


class TierPolicy(models.Model):
    """Per-tier policy data, editable by admins."""

    tier = models.CharField(max_length=10, choices=RiskTier.choices, unique=True)
    eval_regression_tolerance = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0)],
        help_text="Largest allowed drop of any eval metric (candidate − baseline, absolute) "
        "before submit needs a written justification.",
    )
    default_ramp = models.JSONField(
        default=list, help_text='Stages: [{"percent": 1, "bake_minutes": 30}, …, {"percent": 100}]'
    )
    min_samples_per_stage = models.PositiveIntegerField(
        default=20, validators=[MaxValueValidator(1_000_000)]
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["tier"]
        verbose_name_plural = "tier policies"

    def __str__(self):
        return f"{self.tier} tier policy"

    @classmethod
    def for_tier(cls, tier: str) -> "TierPolicy":
        policy = cls.objects.filter(tier=tier).first()
        if policy is None:
            tolerance = {"low": 0.01, "medium": 0.005, "high": 0.0}[tier]
            policy = cls(
                tier=tier, eval_regression_tolerance=tolerance, default_ramp=default_ramp_for(tier)
            )
        return policy
