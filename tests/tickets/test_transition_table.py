"""The transition table (tickets/transition_table.py) is the one declaration each transition has:
the model's state machine, the pages, the API, the permission sentences, notices and the gateway
policy read it, so a transition cannot be half added."""

from datetime import timedelta

import pytest

from changemgmt import clock
from changemgmt.killswitches.policy import RAMP_TRANSITIONS
from changemgmt.tickets import api, rules, services, transition_table, views
from changemgmt.tickets.models import CONTENT_FIELDS, TRANSITIONS, ChangeTicket, State
from changemgmt.tickets.notices import NOTIFIED_TRANSITIONS
from tests.tickets.factories import approved, only_ticket_rules, walk

pytestmark = pytest.mark.django_db

TABLE = transition_table.TABLE


def _model_transitions() -> set[str]:
    return {
        name
        for name in dir(ChangeTicket)
        if hasattr(getattr(ChangeTicket, name, None), "_django_fsm")
    }


def _own_guard_names(name) -> set[str]:
    meta = getattr(ChangeTicket, name)._django_fsm
    return {
        getattr(condition, "guard_name", "")
        for transition in meta.transitions.values()
        for condition in transition.conditions
    }


def test_it_declares_every_transition_of_the_state_machine_once():
    assert len({t.name for t in TABLE}) == len(TABLE)
    assert {t.name for t in TABLE} == _model_transitions()
    assert TRANSITIONS == tuple(t.name for t in TABLE)


@pytest.mark.parametrize("declared", TABLE, ids=lambda t: t.name)
def test_it_gives_every_transition_its_words(declared):
    assert declared.label and declared.summary and declared.permission.endswith(".")


@pytest.mark.parametrize("declared", TABLE, ids=lambda t: t.name)
def test_it_requires_a_reason_exactly_where_the_model_guards_it(declared):
    assert declared.reason_required == ("reason_is_given" in _own_guard_names(declared.name))


@pytest.mark.parametrize("declared", TABLE, ids=lambda t: t.name)
def test_it_allows_only_lifecycle_inputs_that_are_not_the_approved_record(declared):
    fields = {f.name for f in ChangeTicket._meta.concrete_fields}
    bookkeeping = {"id", "change_id", "state", "author", "feature", "cab_round", "approved_at"}
    for field in declared.inputs:
        assert field in fields
        assert field not in CONTENT_FIELDS and field not in bookkeeping


def test_every_reader_takes_the_table():
    assert api.API_TRANSITIONS == TRANSITIONS
    assert api.TRANSITION_SUMMARIES == {t.name: t.summary for t in TABLE}
    assert views.TRANSITION_LABELS == {t.name: t.label for t in TABLE}
    assert rules.PERMISSION_REASONS == {t.name: t.permission for t in TABLE}
    assert services.REASON_REQUIRED == {
        "halt",
        "roll_back",
        "cancel",
        "request_changes",
        "reject",
        "emergency_approve",
    }
    assert NOTIFIED_TRANSITIONS["halt"] == "HALTED" and "withdraw" not in NOTIFIED_TRANSITIONS
    assert RAMP_TRANSITIONS == {
        "start",
        "promote",
        "halt",
        "resume",
        "roll_back",
        "close",
        "cancel",
    }
    assert transition_table.names(danger=True) == {"halt", "roll_back", "reject", "cancel"}


def test_it_refuses_an_input_another_transition_declares(select_guards, author, release_manager):
    only_ticket_rules(select_guards)
    ticket = walk(approved(author, release_manager), release_manager, "schedule", "start")
    with pytest.raises(TypeError, match="'planned_start' is not an input of the roll_back"):
        services.ticket_transition(
            ticket,
            "roll_back",
            acting_user=release_manager,
            reason="error rate",
            planned_start=clock.now() + timedelta(days=1),
        )
    ticket.refresh_from_db()
    assert ticket.state == State.RAMPING and ticket.rolled_back_at is None


def test_it_refuses_review_notes_given_to_schedule(select_guards, author, release_manager):
    only_ticket_rules(select_guards)
    ticket = approved(author, release_manager)
    with pytest.raises(TypeError, match="'review_notes' is not an input of the schedule"):
        services.ticket_transition(
            ticket,
            "schedule",
            acting_user=release_manager,
            planned_start=clock.now() + timedelta(days=1),
            review_notes="sneaked in",
        )
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED and ticket.review_notes == ""
