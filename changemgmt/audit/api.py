from rest_framework import generics, pagination, permissions, serializers

from .access import may_read_audit_log
from .filters import AuditRecordFilter
from .models import AuditRecord


class AuditReader(permissions.BasePermission):
    message = (
        "Only auditors, release managers, the platform team and CAB seats may read the audit log."
    )

    def has_permission(self, request, view):
        return may_read_audit_log(request.user)


class AuditRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditRecord
        fields = [
            "seq",
            "created_at",
            "object_model",
            "object_id",
            "object_repr",
            "object_key",
            "action",
            "actor_username",
            "reason",
            "changes",
            "ticket_id",
            "content_hash",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class AuditPagination(pagination.LimitOffsetPagination):
    # A capped limit: a huge ?limit= would otherwise overflow the database integer (a 500).
    max_limit = 1000


class AuditRecordList(generics.ListAPIView):
    """The audit log, newest first, with the same filters as the page (read-only)."""

    serializer_class = AuditRecordSerializer
    permission_classes = [permissions.IsAuthenticated, AuditReader]
    filterset_class = AuditRecordFilter
    pagination_class = AuditPagination
    queryset = AuditRecord.objects.order_by("-seq")
