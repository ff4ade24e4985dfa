"""The refusals the lifecycle raises, below every app.

tickets raises them; windows and rollouts catch them; web's API error handler turns them into
409/400 bodies. Living here, none of those reaches into tickets' service modules for a class.
"""


class TransitionRefused(Exception):
    """The state or a guard refuses the transition; `reasons` is [(guard name, sentence)]."""

    def __init__(self, transition: str, reasons: list[tuple[str, str]]):
        self.transition = transition
        self.reasons = reasons
        super().__init__("; ".join(reason for _, reason in reasons))

    @property
    def guard(self) -> str:
        return self.reasons[0][0] if self.reasons else ""

    @property
    def message(self) -> str:
        return str(self)


class TicketFrozen(Exception):
    """After approval the ticket's fields are frozen: a change needs a new ticket. `guard` names
    the rule for the API's 409 body (the ramp plan freezes earlier, at submission)."""

    def __init__(self, message, guard="fields_frozen_after_approval"):
        self.guard = guard
        super().__init__(message)


class VoteRefused(Exception):
    """A vote the CAB rules refuse; `field` names the form field at fault (None: the whole form)."""

    def __init__(self, message, field=None):
        self.field = field
        super().__init__(message)
