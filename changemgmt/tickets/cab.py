"""CAB votes: who may vote in which seat, and what a vote does (request changes, reject, or
approve on quorum) through the ticket's transitions.

The rules on a vote itself are named guards like the transitions' own: `check(vote) -> sentence |
None` on the unsaved vote, each with the refusal it raises (VOTE_GUARDS).
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from changemgmt import roles
from changemgmt.audit.recording import save_audited, system_user
from changemgmt.refusals import TransitionRefused, VoteRefused

from . import rules
from .models import CHECKLIST_ITEMS, Decision, State, Vote
from .transitions import lock_ticket, ticket_transition


def seats_of(user) -> list[str]:
    return [seat for seat in roles.CAB_SEATS if roles.has_role(user, seat)]


# ----- the vote's named guards -----


def voter_is_not_the_author(vote):
    """The ticket's author does not vote on it (separation of duties)."""
    if vote.ticket.author_id == vote.voter_id:
        return "The author cannot vote on their own ticket."
    return None


def refusal_is_explained(vote):
    """Requesting changes or rejecting takes a comment: the author needs to know why."""
    if vote.decision != Decision.APPROVE and not vote.comment:
        return "A comment is required to request changes or reject."
    return None


def approval_ticks_every_checklist_item(vote):
    """An approval ticks every item of the CAB checklist."""
    if vote.decision == Decision.APPROVE and not all(vote.checklist.values()):
        missing = [CHECKLIST_ITEMS[k] for k, v in vote.checklist.items() if not v]
        return "Tick every checklist item to approve: " + "; ".join(missing) + "."
    return None


# guard -> the refusal it raises (a role refusal is a 403; a refused input names its field).
VOTE_GUARDS = {
    voter_is_not_the_author: PermissionDenied,
    refusal_is_explained: lambda sentence: VoteRefused(sentence, field="comment"),
    approval_ticks_every_checklist_item: lambda sentence: VoteRefused(sentence, field="checklist"),
}


def _enforce(check, vote):
    sentence = check(vote)
    if sentence:
        raise VOTE_GUARDS[check](sentence)


# ----- casting a vote -----


def _seat_for(ticket, acting_user, seat, retrospective):
    """The seat `acting_user` votes in: the one asked for, else the first of theirs still missing
    from the quorum. PermissionDenied when they hold no (such) seat."""
    my_seats = seats_of(acting_user)
    if not my_seats:
        raise PermissionDenied("Only a CAB seat may vote.")
    _enforce(voter_is_not_the_author, Vote(ticket=ticket, voter=acting_user))
    if seat is None:
        missing = rules.quorum_missing_seats(ticket, retrospective=retrospective)
        needed = [s for s in missing if s in my_seats]
        seat = needed[0] if needed else my_seats[0]
    if seat not in my_seats:
        raise PermissionDenied(f"You do not hold the {seat} seat.")
    return seat


def _check_vote(ticket, vote, retrospective):
    if vote.decision not in Decision.values:
        raise VoteRefused(f"Unknown decision '{vote.decision}'.", field="decision")
    if not retrospective and ticket.state != State.SUBMITTED:
        raise TransitionRefused(
            "vote", [("state", f"Only a submitted ticket is voted on; this one is {ticket.state}.")]
        )
    _enforce(refusal_is_explained, vote)
    _enforce(approval_ticks_every_checklist_item, vote)
    # One person fills one seat, in the retrospective review as in the CAB's own.
    others = [
        v
        for s, v in rules.current_votes(ticket, retrospective=retrospective).items()
        if s != vote.seat and v.voter_id == vote.voter_id
    ]
    if others:
        raise VoteRefused(
            f"You already hold the {others[0].seat} seat on this ticket; one person fills one seat."
        )


def _apply(ticket, vote, acting_user):
    """The vote's consequence: the retrospective review is done once the quorum of the ticket's
    tier and audience has approved it (the CAB's own rules); otherwise request changes, reject, or
    approve once the quorum is in."""
    if vote.retrospective:
        if vote.decision == Decision.APPROVE and rules.retrospective_refusal(ticket) is None:
            ticket.retrospective_due = False
            save_audited(
                ticket, acting_user=acting_user, reason="retrospective CAB quorum approved"
            )
        return
    if vote.decision == Decision.REQUEST_CHANGES:
        ticket_transition(ticket, "request_changes", acting_user=acting_user, reason=vote.comment)
    elif vote.decision == Decision.REJECT:
        ticket_transition(ticket, "reject", acting_user=acting_user, reason=vote.comment)
    elif not rules.quorum_missing_seats(ticket):
        ticket_transition(
            ticket, "approve", acting_user=system_user(), reason="CAB quorum approved"
        )


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
    retrospective = rules.retrospective_is_open(ticket)
    vote = Vote(
        ticket=ticket,
        voter=acting_user,
        seat=_seat_for(ticket, acting_user, seat, retrospective),
        decision=decision,
        comment=(comment or "").strip(),
        checklist={item: bool((checklist or {}).get(item)) for item in CHECKLIST_ITEMS},
        round=ticket.cab_round,
        retrospective=retrospective,
    )
    _check_vote(ticket, vote, retrospective)
    save_audited(vote, acting_user=acting_user, reason=f"CAB vote: {decision}")
    _apply(ticket, vote, acting_user)
    return vote
