from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import ChangeTicket


@admin.register(ChangeTicket)
class ChangeTicketAdmin(SimpleHistoryAdmin):
    """Read-only: tickets change only through their lifecycle (the app and the API)."""

    list_display = ["change_id", "title", "feature", "risk_tier", "state", "created_at"]
    list_filter = ["state", "risk_tier", "classification"]
    search_fields = ["change_id", "title"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
