from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from changemgmt.audit.admin_mixins import AuditedAdminMixin

from .models import WEEKDAY_CHOICES, Freeze, WindowPolicy


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


@admin.register(Freeze)
class FreezeAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    form = FreezeForm
    list_display = ["name", "starts_at", "ends_at", "scope_label"]
    filter_horizontal = ["features"]
    search_fields = ["name", "reason"]
