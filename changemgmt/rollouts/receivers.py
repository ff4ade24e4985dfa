"""Signal receivers: tickets never imports rollouts, so the ramp follows the ticket from here.

The default plan is created when a ticket is first saved (post_save, created=True), from its tier's
policy fitted to the ticket's cap: every ticket has a plan to edit on its page, and the plan's
history starts at filing. A later save of a draft fits a default plan to the edited cap again.
"""

from changemgmt.audit.recording import system_user


def ticket_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    from .services import PLAN_EDITABLE_STATES, ramp_plan_create_default, ramp_plan_refit_default

    if not created and instance.state not in PLAN_EDITABLE_STATES:
        return
    acting_user = getattr(instance, "_history_user", None) or system_user()
    if created:
        ramp_plan_create_default(instance, acting_user=acting_user)
    else:  # an edited cap or user count: the default plan follows it (issue 11 item 4)
        ramp_plan_refit_default(instance, acting_user=acting_user)


def ticket_transitioned(sender, **kwargs):
    from .services import on_ticket_transitioned

    on_ticket_transitioned(sender, **kwargs)
