from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "changemgmt.tickets"
    label = "tickets"

    def ready(self):
        from . import notices

        notices.connect_ticket_notifications()
