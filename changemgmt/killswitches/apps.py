from django.apps import AppConfig


class KillswitchesConfig(AppConfig):
    name = "changemgmt.killswitches"
    label = "killswitches"
    verbose_name = "Kill switches"

    def ready(self):
        # Registered at import: the policy bump on ramp transitions, the `start` guard on stale
        # kill switches, the canary-exercise policy section, game days on the calendar.
        from . import freshness, gamedays, hotpath, policy  # noqa: F401
