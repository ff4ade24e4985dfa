from django.db import router, transaction
from django.dispatch import Signal

from changemgmt.audit.recording import acting

# Sent inside the admin's transaction after every add, change or delete through an
# AuditedAdminMixin admin, so an app can follow admin edits of rows it does not own (the gateway
# policy is bumped when a catalog id it shows is renamed) without the owning admin knowing.
# sender: the model; objs: the rows (deleted ones keep their field values); action: "added",
# "changed" or "deleted"; changed_fields: the form fields that changed (empty for a delete).
admin_written = Signal()


class ReadOnlyAdminMixin:
    """An admin that shows rows but never adds, changes or deletes them.

    For records that change only through their services (the lifecycle, the sweeper, the audit
    chain): an admin edit would bypass the guards and the acting-user history."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedAdminMixin:
    """An admin whose adds, changes and deletes keep the acting user and a reason in the history.

    For catalog and policy data, edited only here: the reason says what the admin did
    ("admin: changed name, owner_team"), so the history row and its audit record tell why as well
    as who."""

    def admin_reason(self, form, change: bool) -> str:
        if not change:
            return "admin: added"
        if form.changed_data:
            return "admin: changed " + ", ".join(form.changed_data)
        return "admin: saved with no change"

    def save_model(self, request, obj, form, change):
        with acting(obj, acting_user=request.user, reason=self.admin_reason(form, change)):
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        # Setting a tracked m2m field (a team's members) writes one more history row per change:
        # it gets the same user and reason.
        with acting(
            form.instance, acting_user=request.user, reason=self.admin_reason(form, change)
        ):
            super().save_related(request, form, formsets, change)
        admin_written.send(
            sender=self.model,
            objs=[form.instance],
            action="changed" if change else "added",
            changed_fields=list(form.changed_data),
        )

    def delete_model(self, request, obj):
        with acting(obj, acting_user=request.user, reason="admin: deleted"):
            super().delete_model(request, obj)
        admin_written.send(sender=self.model, objs=[obj], action="deleted", changed_fields=[])

    def delete_queryset(self, request, queryset):
        # QuerySet.delete() writes each history row off a fresh instance, without a reason: delete
        # row by row instead. The delete_selected action runs outside the admin's transaction.
        with transaction.atomic(using=router.db_for_write(self.model)):
            objs = list(queryset)
            for obj in objs:
                with acting(obj, acting_user=request.user, reason="admin: deleted"):
                    obj.delete()
            admin_written.send(sender=self.model, objs=objs, action="deleted", changed_fields=[])
