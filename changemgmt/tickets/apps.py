from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "changemgmt.tickets"
    label = "tickets"

    def ready(self):
        from django.urls import register_converter

        from . import notices
        from .change_ids import ChangeIdConverter

        register_converter(ChangeIdConverter, "change_id")  # before any URLconf loads

        notices.connect_ticket_notifications()
