"""The admin shows the audit record and notifications read-only, and no admin page anywhere can
change or delete history: simple-history's per-version form (the "revert" page) saves on POST even
with SIMPLE_HISTORY_REVERT_DISABLED (that setting only hides the button), so POST is refused for
every SimpleHistoryAdmin — a revert would also bypass the ticket state machine."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from .admin_mixins import ReadOnlyAdminMixin
from .models import AuditRecord, Notification

_history_form_view = SimpleHistoryAdmin.history_form_view


def _read_only_history_form_view(self, request, object_id, version_id, extra_context=None):
    if request.method not in ("GET", "HEAD"):
        raise PermissionDenied("History is read-only: a version cannot be restored or edited.")
    return _history_form_view(self, request, object_id, version_id, extra_context)


SimpleHistoryAdmin.history_form_view = _read_only_history_form_view


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ["seq", "created_at", "object_model", "object_repr", "action", "actor_username"]
    list_filter = ["object_model", "action"]
    search_fields = ["object_repr", "object_id", "actor_username", "reason"]
    date_hierarchy = "created_at"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event", "subject", "status", "webhook_status", "attempts"]
    list_filter = ["event", "status", "webhook_status"]
    search_fields = ["subject"]
