"""Ticket use cases, one import for callers. Web views, the API, commands and Celery tasks all call
these: one path, one set of guards. They live in three modules along the seams:

- `transitions`: the state machine's one path (`ticket_transition`), refusals and signals, and
  booking a slot (`ticket_schedule`);
- `filing`: filing and editing a ticket (`ticket_create`, `ticket_update`);
- `cab`: CAB votes (`vote_cast`).
"""

from .cab import VoteRefused, seats_of, vote_cast
from .filing import (
    TICKET_FIELDS,
    TicketFrozen,
    clean_eval_deltas,
    ticket_check_editable,
    ticket_create,
    ticket_update,
)
from .transitions import (
    REASON_REQUIRED,
    TransitionRefused,
    available_transitions,
    lock_ticket,
    offered_transitions,
    register_final_stage_check,
    ticket_schedule,
    ticket_transition,
    ticket_transitioned,
    transition_refusals,
)

__all__ = [
    "REASON_REQUIRED",
    "TICKET_FIELDS",
    "TicketFrozen",
    "TransitionRefused",
    "VoteRefused",
    "available_transitions",
    "clean_eval_deltas",
    "lock_ticket",
    "offered_transitions",
    "register_final_stage_check",
    "seats_of",
    "ticket_check_editable",
    "ticket_create",
    "ticket_schedule",
    "ticket_transition",
    "ticket_transitioned",
    "ticket_update",
    "transition_refusals",
    "vote_cast",
]
