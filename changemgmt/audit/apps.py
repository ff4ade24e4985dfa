from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "changemgmt.audit"
    label = "audit"
    verbose_name = "Audit"

    def ready(self):
        from . import hooks, notify

        hooks.protect_history_tables()
        notify.connect_ticket_notifications()
