from django.apps import AppConfig


class WindowsConfig(AppConfig):
    name = "changemgmt.windows"
    label = "windows"
    verbose_name = "Release windows"

    def ready(self):
        from changemgmt.tickets import window_rules

        from . import guards  # noqa: F401  (registers the schedule/start/promote guards)
        from .clashes import connect_freeze_clash_notices
        from .services import TicketWindowRules

        window_rules.register(TicketWindowRules())
        connect_freeze_clash_notices()
