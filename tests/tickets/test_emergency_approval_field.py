"""Emergency approval is a field (`emergency_approved_at`) set by `emergency_approve`, not a search
of the history's reasons; the migration fills it for tickets approved before it existed."""

import importlib

import pytest
from django.apps import apps

from changemgmt import clock
from changemgmt.audit.verification import verify
from changemgmt.tickets import services
from changemgmt.tickets.models import ChangeTicket
from changemgmt.windows.policy import is_emergency
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("changemgmt.tickets.migrations.0003_emergency_approved_at")


@pytest.fixture
def emergency_ticket(author, release_manager):
    return TicketFactory(
        author=author,
        release_manager=release_manager,
        emergency=True,
        emergency_justification="Jailbreak public on Friday 17:00; the prompt closes it.",
    )


def test_it_stamps_the_emergency_approval_and_keeps_it_after_the_retrospective(
    emergency_ticket, exec_approver
):
    services.ticket_transition(
        emergency_ticket, "emergency_approve", acting_user=exec_approver, reason="jailbreak"
    )
    emergency_ticket.refresh_from_db()
    assert emergency_ticket.emergency_approved_at == emergency_ticket.approved_at
    ChangeTicket.objects.filter(pk=emergency_ticket.pk).update(retrospective_due=False)
    emergency_ticket.refresh_from_db()
    assert is_emergency(emergency_ticket)


def test_it_does_not_count_a_flagged_ticket_the_cab_approved_as_an_emergency(emergency_ticket):
    ChangeTicket.objects.filter(pk=emergency_ticket.pk).update(
        state="approved", approved_at=clock.now()
    )
    emergency_ticket.refresh_from_db()
    assert emergency_ticket.emergency and not is_emergency(emergency_ticket)


def test_the_migration_fills_the_field_from_the_history_and_leaves_the_chain_whole(
    emergency_ticket, exec_approver, author, release_manager
):
    services.ticket_transition(
        emergency_ticket, "emergency_approve", acting_user=exec_approver, reason="jailbreak"
    )
    other = TicketFactory(author=author, release_manager=release_manager)
    ChangeTicket.objects.filter(pk=emergency_ticket.pk).update(emergency_approved_at=None)
    approval = emergency_ticket.history.get(history_change_reason__startswith="emergency_approve")

    migration.fill_from_history(apps, None)

    emergency_ticket.refresh_from_db()
    other.refresh_from_db()
    assert emergency_ticket.emergency_approved_at == approval.history_date
    assert other.emergency_approved_at is None
    assert verify().records > 0
