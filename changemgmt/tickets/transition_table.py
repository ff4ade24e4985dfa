"""The transition table: one declaration per ticket transition, which every other list reads.

Adding a transition means adding a `Transition` here and its method on `ChangeTicket` (the states
it moves between and its guards); the ticket page's buttons, the API's routes and summaries, the
permission sentences, notifications and the gateway policy follow from this table.

This module imports nothing from the project: models, rules, services and the apps above tickets
all read it.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Transition:
    name: str
    label: str  # the button on the ticket page, and "<label> refused: …"
    summary: str  # the API operation's summary (POST /api/v1/changes/{id}/<name>/)
    permission: str  # why a role that may not take it is refused
    # Ticket fields the caller may give with the transition (an allow-list): the record the CAB
    # approved is never written through a transition's side door.
    inputs: tuple[str, ...] = ()
    reason_required: bool = False
    # Guards that judge what the caller types in with the transition, not the ticket: they cannot
    # refuse before the input is given, so the page keeps the button and the service rules on it.
    # A required reason adds `reason_is_given`.
    judges_input: tuple[str, ...] = ()
    notice: str = ""  # the word in the ticket notice ("" = no notice is sent)
    danger: bool = False  # shown as a destructive action
    moves_ramp: bool = False  # changes the active ramps the gateway policy publishes

    @property
    def input_guards(self) -> frozenset[str]:
        return frozenset(self.judges_input) | (
            {"reason_is_given"} if self.reason_required else set()
        )


TABLE = (
    Transition(
        "submit",
        label="Submit",
        summary="Submit a draft (Low tier: approved at once as a pre-approved standard change)",
        permission="Only the ticket's author may submit it.",
        notice="submitted",
    ),
    Transition(
        "withdraw",
        label="Withdraw",
        summary="Withdraw a submitted ticket to draft (clears the CAB votes)",
        permission="Only the ticket's author may withdraw it.",
    ),
    Transition(
        "approve",
        label="Approve",
        summary=(
            "Refused to every caller (403 on a submitted ticket, 409 in any other state): the "
            "system approves when the CAB quorum has voted; post votes to …/votes/"
        ),
        permission="Approval is given by the system when the CAB quorum has approved.",
        notice="approved",
    ),
    Transition(
        "request_changes",
        label="Request changes",
        summary="CAB: send the ticket back to draft (reason required)",
        permission="Only a CAB seat who is not the author may request changes.",
        reason_required=True,
    ),
    Transition(
        "reject",
        label="Reject",
        summary="CAB: reject the ticket (reason required)",
        permission="Only a CAB seat who is not the author may reject.",
        reason_required=True,
        danger=True,
    ),
    Transition(
        "emergency_approve",
        label="Emergency approve",
        summary="Exec approver: approve an emergency change",
        permission="Only an exec approver who is not the author may emergency-approve.",
        reason_required=True,
        notice="emergency-approved",
    ),
    Transition(
        "schedule",
        label="Schedule",
        summary="Book the release slot (planned_start)",
        permission="Only a release manager may schedule (for High tier, not the author).",
        inputs=("planned_start", "slot_ends_at"),
        # The window rule judges the planned start given with it: a scheduled ticket whose
        # booked slot has passed may still be booked again.
        judges_input=("planned_start_is_set", "planned_start_is_in_an_open_window"),
        notice="scheduled",
    ),
    Transition(
        "start",
        label="Start ramp",
        summary="Start the canary ramp",
        permission="Only a release manager may start the ramp (for High tier, not the author).",
        notice="ramp started",
        moves_ramp=True,
    ),
    Transition(
        "promote",
        label="Promote",
        summary="Promote the ramp one stage",
        permission="Only a release manager or the ramp controller may promote.",
        notice="promoted",
        moves_ramp=True,
    ),
    Transition(
        "halt",
        label="Halt",
        summary="Halt the ramp where it is (reason required)",
        permission="Only a release manager or the ramp controller may halt.",
        reason_required=True,
        notice="HALTED",
        danger=True,
        moves_ramp=True,
    ),
    Transition(
        "resume",
        label="Resume",
        summary="Resume a halted ramp",
        permission="Only a release manager may resume (for High tier, not the author).",
        notice="resumed",
        moves_ramp=True,
    ),
    Transition(
        "roll_back",
        label="Roll back",
        summary="Roll back (reason required)",
        permission="Only a release manager or the ramp controller may roll back.",
        reason_required=True,
        notice="ROLLED BACK",
        danger=True,
        moves_ramp=True,
    ),
    Transition(
        "close",
        label="Close",
        summary="Close with the review notes (notes, metrics_held)",
        permission="Only a release manager may close (for High tier, not the author).",
        inputs=("review_notes", "metrics_held"),
        judges_input=("review_notes_are_written",),
        notice="closed",
        moves_ramp=True,
    ),
    Transition(
        "cancel",
        label="Cancel",
        summary="Cancel (reason required)",
        permission="Only the author or a release manager may cancel.",
        reason_required=True,
        notice="cancelled",
        danger=True,
        moves_ramp=True,
    ),
)

BY_NAME = {t.name: t for t in TABLE}
TRANSITIONS = tuple(BY_NAME)


def declared(name: str) -> Transition | None:
    return BY_NAME.get(name)


def names(**flags) -> frozenset[str]:
    """The transitions whose declaration has every given flag: names(danger=True)."""
    return frozenset(
        t.name for t in TABLE if all(getattr(t, key) == value for key, value in flags.items())
    )
