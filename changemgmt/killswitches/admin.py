"""Admin for the switches and game days (dates are editable here and on the game-day page).

Switch state is changed through the console or the API, where the flip is owner-checked, reasoned
and bumps the policy version; the admin shows it read-only. Policy documents and acks are records.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.dispatch import receiver
from simple_history.admin import SimpleHistoryAdmin

from changemgmt import roles
from changemgmt.audit.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin, admin_written
from changemgmt.catalog.models import AIFeature, AIModel, Tenant

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

SWITCH_MODELS = (FeatureSwitch, ModelSwitch, TenantSwitch)

# The catalog ids the gateway document prints (document.py, and the ramps section's feature).
# Renaming one changes the served bytes although no switch row changed. A rename of a row the
# document does not show yet bumps too: a spare version costs gateways one refetch, nothing more.
DOCUMENT_IDS = {AIFeature: "slug", AIModel: "model_id", Tenant: "tenant_id"}


@receiver(admin_written, dispatch_uid="killswitches.admin.bump_policy_on_admin_write")
def bump_policy_on_admin_write(sender, objs, action, changed_fields, **kwargs):
    """An admin edit that changes the served policy takes a new version in the admin's
    transaction: gateways see it (a deleted switch gone, a renamed id) under a new ETag."""
    if sender in SWITCH_MODELS:
        affected = objs
    elif sender is Exercise and action == "deleted":
        affected = [exercise for exercise in objs if exercise.is_open]  # canary_exercises
    elif action == "changed" and DOCUMENT_IDS.get(sender) in changed_fields:
        affected = objs
    else:
        return
    if affected:
        policy_bump(f"admin: {', '.join(str(obj) for obj in affected)} {action}")


class SwitchAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    readonly_fields = ("last_exercised_at",)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += [self.state_field]
        return fields


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
class GameDayAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ("quarter", "scheduled_for", "status", "reminded_at")


@admin.register(Exercise)
class ExerciseAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ("switch_path", "game_day", "canary_slice", "flipped_at", "fallback_verified")
    readonly_fields = [f.name for f in Exercise._meta.fields]

    def has_add_permission(self, request):
        # An exercise is evidence: it is recorded by the game-day flow (a real flip, the gateways'
        # acks, the time-to-kill), never typed in by hand.
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    list_display = ("current", "changed_at")


@admin.register(PolicyDocument)
class PolicyDocumentAdmin(ReadOnlyAdmin):
    list_display = ("version", "built_at")


@admin.register(Gateway)
class GatewayAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    """Admins add gateway names and bind each to the account that may ack for it; the acked
    version and time come only from acks."""

    list_display = ("gateway_id", "account", "acked_version", "acked_at")
    fields = ("gateway_id", "account", "acked_version", "acked_at")
    readonly_fields = ("acked_version", "acked_at")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "account":
            kwargs["queryset"] = get_user_model().objects.filter(groups__name=roles.GATEWAY)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # its acks are records


@admin.register(GatewayAck)
class GatewayAckAdmin(ReadOnlyAdmin):
    list_display = ("gateway", "version", "acked_at")
