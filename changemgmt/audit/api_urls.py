from django.urls import path

from . import api

urlpatterns = [
    path("audit/", api.AuditRecordList.as_view(), name="api-audit-records"),
]
