from django.apps import AppConfig


class WindowsConfig(AppConfig):
    name = "changemgmt.windows"
    label = "windows"
