"""CAB votes: who may vote in which seat, and what a vote does (request changes, reject, or
approve on quorum) through the ticket's transitions.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.dispatch import Signal

from changemgmt import roles
from changemgmt.audit.recording import save_audited, system_user
from changemgmt.refusals import TransitionRefused, VoteRefused

from . import rules
from .models import CHECKLIST_ITEMS, Decision, State, Vote
from .transitions import lock_ticket, ticket_transition

vote_recorded = Signal()  # sender=Vote, vote, acting_user


def seats_of(user) -> list[str]:
    return [seat for seat in roles.CAB_SEATS if roles.has_role(user, seat)]


@transaction.atomic
def vote_cast(
    ticket,
    *,
    acting_user,
    decision: str,
    comment: str = "",
    checklist: dict | None = None,
    seat: str | None = None,
) -> Vote:
    """Record a CAB vote and apply its consequence: request changes, reject, or (on quorum)
    approve. Two seats voting at once serialize on the ticket row, so approval happens once."""
    ticket = lock_ticket(ticket)
    checklist = {item: bool((checklist or {}).get(item)) for item in CHECKLIST_ITEMS}
    comment = (comment or "").strip()
    retrospective = ticket.retrospective_due and ticket.state != State.SUBMITTED
    my_seats = seats_of(acting_user)
    if not my_seats:
        raise PermissionDenied("Only a CAB seat may vote.")
    if ticket.author_id == acting_user.pk:
        raise PermissionDenied("The author cannot vote on their own ticket.")
    if seat is None:
        needed = [s for s in rules.quorum_missing_seats(ticket) if s in my_seats]
        seat = needed[0] if needed else my_seats[0]
    if seat not in my_seats:
        raise PermissionDenied(f"You do not hold the {seat} seat.")
    if decision not in Decision.values:
        raise VoteRefused(f"Unknown decision '{decision}'.", field="decision")
    if not retrospective and ticket.state != State.SUBMITTED:
        raise TransitionRefused(
            "vote", [("state", f"Only a submitted ticket is voted on; this one is {ticket.state}.")]
        )
    if decision != Decision.APPROVE and not comment:
        raise VoteRefused("A comment is required to request changes or reject.", field="comment")
    if decision == Decision.APPROVE and not all(checklist.values()):
        missing = [CHECKLIST_ITEMS[k] for k, v in checklist.items() if not v]
        raise VoteRefused(
            "Tick every checklist item to approve: " + "; ".join(missing) + ".", field="checklist"
        )
    others = [
        v
        for s, v in rules.current_votes(ticket).items()
        if s != seat and v.voter_id == acting_user.pk
    ]
    if others and not retrospective:
        raise VoteRefused(
            f"You already hold the {others[0].seat} seat on this ticket; one person fills one seat."
        )
    vote = Vote(
        ticket=ticket,
        voter=acting_user,
        seat=seat,
        decision=decision,
        comment=comment,
        checklist=checklist,
        round=ticket.cab_round,
        retrospective=retrospective,
    )
    save_audited(vote, acting_user=acting_user, reason=f"CAB vote: {decision}")
    vote_recorded.send(sender=Vote, vote=vote, acting_user=acting_user)
    if retrospective:
        if decision == Decision.APPROVE:
            ticket.retrospective_due = False
            save_audited(
                ticket, acting_user=acting_user, reason="retrospective CAB review recorded"
            )
        return vote
    if decision == Decision.REQUEST_CHANGES:
        ticket_transition(ticket, "request_changes", acting_user=acting_user, reason=comment)
    elif decision == Decision.REJECT:
        ticket_transition(ticket, "reject", acting_user=acting_user, reason=comment)
    elif not rules.quorum_missing_seats(ticket):
        ticket_transition(
            ticket, "approve", acting_user=system_user(), reason="CAB quorum approved"
        )
    return vote
