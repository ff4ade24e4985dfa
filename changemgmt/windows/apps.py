from django.apps import AppConfig


class WindowsConfig(AppConfig):
    name = "changemgmt.windows"
    label = "windows"
    verbose_name = "Release windows"

    def ready(self):
        from changemgmt.tickets.services import ticket_transitioned

        from . import guards  # noqa: F401  (registers the schedule/start/promote guards)
        from .services import fill_slot_end

        ticket_transitioned.connect(fill_slot_end, dispatch_uid="windows.fill_slot_end")
