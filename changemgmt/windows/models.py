"""Release-window policy and freezes (DESIGN.md, "Release windows"). The arithmetic is in policy.py."""

import zoneinfo
from datetime import time

from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from changemgmt.catalog.models import AIFeature

WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEKDAY_CHOICES = [(i, name) for i, name in enumerate(WEEKDAY_NAMES)]
DEFAULT_WEEKDAYS = [
    1,
    2,
    3,
]  # Tue/Wed/Thu: no Mondays (start of week), no Fridays (weekend on-call)
DEFAULT_TIMEZONE = "America/New_York"


def default_weekdays():
    return list(DEFAULT_WEEKDAYS)


def validate_timezone(value):
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise ValidationError(
            f"'{value}' is not an IANA time zone (e.g. America/New_York)."
        ) from err


class WindowPolicy(models.Model):
    """When a standard change may go live. One policy is active; admins edit it as data."""

    name = models.CharField(max_length=120, default="Standard release window")
    timezone = models.CharField(
        max_length=64, default=DEFAULT_TIMEZONE, validators=[validate_timezone]
    )
    weekdays = models.JSONField(
        default=default_weekdays, help_text="Days the window opens: 0 = Monday … 6 = Sunday."
    )
    start_time = models.TimeField(default=time(10, 0))
    end_time = models.TimeField(default=time(16, 0))
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "window policies"
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="one_active_window_policy"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.describe()})"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def describe(self) -> str:
        """'Tue/Wed/Thu 10:00–16:00 America/New_York': the rule, as the refusals name it."""
        days = "/".join(WEEKDAY_NAMES[d][:3] for d in sorted(self.weekdays))
        return f"{days} {self.start_time:%H:%M}–{self.end_time:%H:%M} {self.timezone}"

    def clean(self):
        errors = {}
        days = self.weekdays
        if (
            not isinstance(days, list)
            or not days
            or any(not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in days)
        ):
            errors["weekdays"] = "Pick at least one day (0 = Monday … 6 = Sunday)."
        else:
            self.weekdays = sorted(set(days))
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            errors["end_time"] = "The window must end after it starts (same day)."
        if self.active:
            others = WindowPolicy.objects.filter(active=True).exclude(pk=self.pk)
            if others.exists():
                errors["active"] = (
                    f"'{others.first().name}' is the active policy; deactivate it first."
                )
        if errors:
            raise ValidationError(errors)


class Freeze(models.Model):
    """A named period in which no standard change goes live (quarter-end close, peak shopping…).

    An empty scope freezes everything; otherwise it covers tickets on one of `features` or
    reaching one of `regions`.
    """

    name = models.CharField(max_length=120)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.TextField(max_length=2000)
    features = models.ManyToManyField(AIFeature, blank=True, related_name="freezes")
    regions = models.JSONField(
        default=list, blank=True, help_text='Region codes, e.g. ["US", "CA"]; empty = all.'
    )
    history = HistoricalRecords(m2m_fields=[features])

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["ends_at", "starts_at"])]

    def __str__(self):
        return self.name

    def clean(self):
        errors = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "A freeze must end after it starts."
        if not isinstance(self.regions, list) or any(
            not isinstance(r, str) or not r.strip() for r in self.regions
        ):
            errors["regions"] = 'Give a list of region codes, e.g. ["US", "CA"].'
        else:
            self.regions = sorted({r.strip().upper() for r in self.regions})
        if not (self.reason or "").strip():
            errors["reason"] = "Say why the freeze exists."
        if errors:
            raise ValidationError(errors)

    @property
    def scope_label(self) -> str:
        parts = []
        if self.pk:
            parts += [f.slug for f in self.features.all()]
        parts += list(self.regions or [])
        return ", ".join(parts) if parts else "everything"
