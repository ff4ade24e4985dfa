from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "changemgmt.audit"
    label = "audit"
