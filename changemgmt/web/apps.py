from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "changemgmt.web"
    label = "web"
