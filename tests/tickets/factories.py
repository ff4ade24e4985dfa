"""Helpers for the lifecycle, CAB and API tests: tickets walked to a state through the services."""

from datetime import timedelta

from changemgmt import clock
from changemgmt.tickets import services
from changemgmt.tickets.models import CHECKLIST_ITEMS
from tests.factories import FeatureFactory, TicketFactory

ALL_TICKED = {item: True for item in CHECKLIST_ITEMS}


def only_ticket_rules(select_guards):
    """Take guards registered by the apps above tickets (windows, killswitches, rollouts) out of
    play, so these tests exercise the ticket's own rules; those apps test their guards."""
    select_guards(())


def approve(ticket, voters, **kwargs):
    """Every voter in `voters` approves with the whole checklist ticked."""
    for voter in voters:
        services.vote_cast(
            ticket, acting_user=voter, decision="approve", checklist=ALL_TICKED, **kwargs
        )
    ticket.refresh_from_db()
    return ticket


def submitted(author, release_manager, **kwargs):
    ticket = TicketFactory(author=author, release_manager=release_manager, **kwargs)
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    return ticket


def approved(author, release_manager, **kwargs):
    """A Low-tier ticket approved on submit (a pre-approved standard change)."""
    kwargs.setdefault("feature", FeatureFactory(risk_tier="low"))
    return submitted(author, release_manager, **kwargs)


def walk(ticket, release_manager, *steps):
    """Take release steps as the release manager: 'schedule', 'start', 'promote', 'deploy',
    'halt', 'roll_back'."""
    for step in steps:
        if step == "schedule":
            services.ticket_transition(
                ticket,
                "schedule",
                acting_user=release_manager,
                planned_start=clock.now() + timedelta(hours=1),
            )
        elif step == "deploy":
            services.ticket_transition(ticket, "promote", acting_user=release_manager, final=True)
        elif step in ("halt", "roll_back"):
            services.ticket_transition(
                ticket, step, acting_user=release_manager, reason=f"{step} in a test"
            )
        else:
            services.ticket_transition(ticket, step, acting_user=release_manager)
    ticket.refresh_from_db()
    return ticket
