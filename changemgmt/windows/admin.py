from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from changemgmt.audit.admin_mixins import AuditedAdminMixin

from .models import WEEKDAY_CHOICES, Freeze, WindowPolicy
from .policy import current_policy


class WindowPolicyForm(forms.ModelForm):
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="Days the standard window opens.",
    )

    class Meta:
        model = WindowPolicy
        fields = ["name", "timezone", "weekdays", "start_time", "end_time", "active"]


@admin.register(WindowPolicy)
class WindowPolicyAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    form = WindowPolicyForm
    list_display = ["name", "timezone", "start_time", "end_time", "active"]


class RegionsField(forms.CharField):
    """Comma-separated region codes <-> a JSON list."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def to_python(self, value):
        value = super().to_python(value)
        return sorted({part.strip().upper() for part in (value or "").split(",") if part.strip()})


class FreezeForm(forms.ModelForm):
    regions = RegionsField(
        required=False, help_text="Comma-separated region codes (e.g. US, CA); empty = all."
    )

    class Meta:
        model = Freeze
        fields = ["name", "starts_at", "ends_at", "reason", "features", "regions"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The admin runs in the policy's zone (ViewerTimezoneMiddleware): say so at the fields.
        zone = current_policy().timezone
        for name, label in (("starts_at", "Starts at"), ("ends_at", "Ends at")):
            if name in self.fields:
                self.fields[name].label = f"{label} ({zone})"
                self.fields[name].help_text = f"Date and time in {zone}, the window policy's zone."


@admin.register(Freeze)
class FreezeAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    form = FreezeForm
    list_display = ["name", "starts_at", "ends_at", "scope_label"]
    filter_horizontal = ["features"]
    search_fields = ["name", "reason"]
