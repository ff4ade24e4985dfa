"""Admin for the switches and game days (dates are editable here and on the game-day page).

Switch state is changed through the console or the API, where the flip is owner-checked, reasoned
and bumps the policy version; the admin shows it read-only. Policy documents and acks are records.
"""

from django.contrib import admin
from django.db import transaction
from simple_history.admin import SimpleHistoryAdmin

from changemgmt.admin_mixins import ReadOnlyAdminMixin
from changemgmt.audit.recording import save_audited

from .models import (
    Exercise,
    FeatureSwitch,
    GameDay,
    Gateway,
    GatewayAck,
    ModelSwitch,
    PolicyDocument,
    PolicyVersion,
    TenantSwitch,
)
from .policy import policy_bump


class SwitchAdmin(SimpleHistoryAdmin):
    readonly_fields = ("last_exercised_at",)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += [self.state_field]
        return fields

    def save_model(self, request, obj, form, change):
        # A new or edited switch changes the gateway policy: bump it in the same transaction.
        with transaction.atomic():
            verb = "edited" if change else "created"
            save_audited(obj, acting_user=request.user, reason=f"admin: {verb}")
            policy_bump(f"admin: {obj.path} {verb}")


@admin.register(FeatureSwitch)
class FeatureSwitchAdmin(SwitchAdmin):
    list_display = ("feature", "enabled", "fallback", "last_exercised_at")
    state_field = "enabled"


@admin.register(ModelSwitch)
class ModelSwitchAdmin(SwitchAdmin):
    list_display = ("model", "disabled", "fallback_model", "last_exercised_at")
    state_field = "disabled"


@admin.register(TenantSwitch)
class TenantSwitchAdmin(SwitchAdmin):
    list_display = ("tenant", "ai_disabled", "reason", "expires", "last_exercised_at")
    state_field = "ai_disabled"


@admin.register(GameDay)
class GameDayAdmin(SimpleHistoryAdmin):
    list_display = ("quarter", "scheduled_for", "status", "reminded_at")


@admin.register(Exercise)
class ExerciseAdmin(SimpleHistoryAdmin):
    list_display = ("switch_path", "game_day", "canary_slice", "flipped_at", "fallback_verified")
    readonly_fields = [f.name for f in Exercise._meta.fields]


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    list_display = ("current", "changed_at")


@admin.register(PolicyDocument)
class PolicyDocumentAdmin(ReadOnlyAdmin):
    list_display = ("version", "built_at")


@admin.register(Gateway)
class GatewayAdmin(ReadOnlyAdmin):
    list_display = ("gateway_id", "acked_version", "acked_at")


@admin.register(GatewayAck)
class GatewayAckAdmin(ReadOnlyAdmin):
    list_display = ("gateway", "version", "acked_at")
