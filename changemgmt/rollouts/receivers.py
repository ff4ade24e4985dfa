"""Signal receivers: tickets never imports rollouts, so the ramp follows the ticket from here.

The default plan is created when a ticket is first saved (post_save, created=True), from its tier's
policy: every ticket has a plan to edit on its page, and the plan's history starts at filing.
"""

from changemgmt.audit.recording import system_user


def ticket_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from .services import ramp_plan_create_default

        ramp_plan_create_default(
            instance, acting_user=getattr(instance, "_history_user", None) or system_user()
        )


def ticket_transitioned(sender, **kwargs):
    from .services import on_ticket_transitioned

    on_ticket_transitioned(sender, **kwargs)
