"""Window test data: approved and emergency tickets, freezes, New York wall-clock instants."""

from datetime import datetime
from zoneinfo import ZoneInfo

from changemgmt.tickets import services
from changemgmt.windows.models import Freeze
from tests.factories import FeatureFactory, TicketFactory

NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    """An instant given as wall-clock time in America/New_York."""
    return datetime(*args, tzinfo=NY)


def make_approved(author, release_manager, **fields):
    """A Low-tier ticket submitted by its author: pre-approved as a standard change."""
    feature = fields.pop("feature", None) or FeatureFactory(risk_tier="low")
    ticket = TicketFactory(
        author=author, release_manager=release_manager, feature=feature, **fields
    )
    services.ticket_transition(ticket, "submit", acting_user=author)
    ticket.refresh_from_db()
    assert ticket.state == "approved"
    return ticket


def make_emergency(author, release_manager, exec_approver, **fields):
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        emergency=True,
        emergency_justification="A jailbreak of the support assistant went public at 16:40.",
        **fields,
    )
    services.ticket_transition(
        ticket, "emergency_approve", acting_user=exec_approver, reason="jailbreak"
    )
    ticket.refresh_from_db()
    assert ticket.state == "approved" and ticket.retrospective_due
    return ticket


def make_freeze(name, starts_at, ends_at, *, features=(), regions=(), reason="Quarter-end close"):
    freeze = Freeze.objects.create(
        name=name, starts_at=starts_at, ends_at=ends_at, reason=reason, regions=list(regions)
    )
    freeze.features.set(features)
    return freeze
