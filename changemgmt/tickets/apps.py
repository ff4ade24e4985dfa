from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "changemgmt.tickets"
    label = "tickets"
