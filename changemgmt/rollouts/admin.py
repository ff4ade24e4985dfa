from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from changemgmt.audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin

from .models import (
    Breach,
    FeatureGuardTemplate,
    Guard,
    GuardPolicy,
    HealthSample,
    Ramp,
    RampStage,
    RolloutPolicy,
)


@admin.register(GuardPolicy)
class GuardPolicyAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    """Policy data: the thresholds each new ticket's guards are copied from."""

    list_display = ["tier", "metric", "threshold", "severe_threshold", "observe_only", "source"]
    list_filter = ["tier", "metric", "observe_only", "source"]


@admin.register(FeatureGuardTemplate)
class FeatureGuardTemplateAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    """Policy data: a feature's own PromQL for a metric; new tickets on the feature read it."""

    list_display = ["feature", "metric", "query"]
    list_filter = ["metric"]
    search_fields = ["feature__slug"]


@admin.register(RolloutPolicy)
class RolloutPolicyAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ["name", "region_rings"]


class ReadOnlyAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Ramp records change only through the ramp's services (plan form, sweeper, controls)."""


@admin.register(RampStage)
class RampStageAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "index", "percent", "bake_minutes", "entered_at", "completed_at"]
    search_fields = ["ticket__change_id"]


@admin.register(Guard)
class GuardAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "metric", "threshold", "severe_threshold", "observe_only"]
    search_fields = ["ticket__change_id"]


@admin.register(Ramp)
class RampAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "current_index", "bake_started_at"]


@admin.register(Breach)
class BreachAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "metric", "value", "threshold", "severe", "created_at"]
    list_filter = ["severe", "metric"]


@admin.register(HealthSample)
class HealthSampleAdmin(admin.ModelAdmin):
    list_display = [
        "ticket",
        "stage_index",
        "metric",
        "value",
        "source",
        "observed_at",
        "received_at",
    ]
    list_filter = ["metric", "source"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
