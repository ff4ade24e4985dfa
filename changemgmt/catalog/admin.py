from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from changemgmt.audit.admin_mixins import AuditedAdminMixin

from .models import AIFeature, AIModel, Cohort, Team, Tenant, TierPolicy


@admin.register(Team)
class TeamAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ["slug", "name"]
    filter_horizontal = ["members"]


@admin.register(AIFeature)
class AIFeatureAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ["slug", "name", "owner_team", "risk_tier", "customer_facing", "users_served"]
    list_filter = ["risk_tier", "customer_facing", "owner_team"]
    search_fields = ["slug", "name"]


@admin.register(AIModel)
class AIModelAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ["model_id", "provider"]
    search_fields = ["model_id"]


@admin.register(Tenant)
class TenantAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ["tenant_id", "name", "segment", "region"]
    list_filter = ["segment", "region"]
    search_fields = ["tenant_id", "name"]


@admin.register(Cohort)
class CohortAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ["slug", "name"]


@admin.register(TierPolicy)
class TierPolicyAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ["tier", "eval_regression_tolerance", "min_samples_per_stage"]
