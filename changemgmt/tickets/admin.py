from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from changemgmt.audit.admin_mixins import ReadOnlyAdminMixin

from .models import ChangeTicket


@admin.register(ChangeTicket)
class ChangeTicketAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Read-only: tickets change only through their lifecycle (the app and the API)."""

    list_display = ["change_id", "title", "feature", "risk_tier", "state", "created_at"]
    list_filter = ["state", "risk_tier", "classification"]
    search_fields = ["change_id", "title"]
