from django.apps import AppConfig


class KillswitchesConfig(AppConfig):
    name = "changemgmt.killswitches"
    label = "killswitches"
