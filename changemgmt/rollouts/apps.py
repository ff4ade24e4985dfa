from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    name = "changemgmt.rollouts"
    label = "rollouts"
