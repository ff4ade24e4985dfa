from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "changemgmt.audit"
    label = "audit"
    verbose_name = "Audit"

    def ready(self):
        from . import hooks

        hooks.protect_history_tables()
