from django.apps import AppConfig


class RolloutsConfig(AppConfig):
    name = "changemgmt.rollouts"
    label = "rollouts"
    verbose_name = "Canary ramps"

    def ready(self):
        from django.db.models.signals import post_save

        from changemgmt.tickets.models import ChangeTicket
        from changemgmt.tickets.services import register_final_stage_check, ticket_transitioned

        from . import guards, health, receivers  # noqa: F401  (guards register on import)

        register_final_stage_check(health.promotion_is_final)

        from changemgmt.windows.services import register_schedule_warning

        from .projection import schedule_warnings

        register_schedule_warning(schedule_warnings)

        from changemgmt.windows.calendar import register_event_source

        from .calendar_events import ramp_events

        register_event_source(ramp_events)

        ticket_transitioned.connect(
            receivers.ticket_transitioned, sender=ChangeTicket, dispatch_uid="rollouts-ramp"
        )
        post_save.connect(
            receivers.ticket_saved, sender=ChangeTicket, dispatch_uid="rollouts-default-plan"
        )
        from changemgmt.killswitches.policy import register_policy_section

        from .gateway import active_ramps, live_versions

        register_policy_section("ramps", active_ramps)
        register_policy_section("live", live_versions)

        from changemgmt.tickets.serializers import register_detail_section

        from .plan_api import detail_sections

        for name, make_field in detail_sections().items():
            register_detail_section(name, make_field)
