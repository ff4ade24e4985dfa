"""One function decides "is this promotion the last stage?" (health.promotion_is_final): a
release manager's "promote now", a plain `promote` (the API, the ticket page) and the sweeper all
take its answer, so every path deploys at the last stage and no earlier."""

import time_machine

from changemgmt.rollouts import health
from changemgmt.rollouts.services import rollout_promote_now
from changemgmt.tickets import services as ticket_services
from changemgmt.tickets.models import State
from tests.rollouts.conftest import WEDNESDAY_10


def _promote_now(ticket, user):
    rollout_promote_now(ticket, acting_user=user)


def _plain_promote(ticket, user):
    ticket_services.ticket_transition(ticket, "promote", acting_user=user)


def test_every_promote_path_deploys_exactly_at_the_last_stage(
    ramping_ticket, release_manager, select_guards
):
    # Bake, samples and window have their own tests; here only the last-stage answer matters.
    select_guards((), on=["promote"])
    ticket = ramping_ticket
    last = health.last_stage_index(ticket)
    assert last >= 2
    paths = [_promote_now, _plain_promote]
    with time_machine.travel(WEDNESDAY_10, tick=False):
        for step in range(last):
            final = health.promotion_is_final(ticket)
            assert final == (step == last - 1)
            paths[step % 2](ticket, release_manager)
            ticket.refresh_from_db()
            assert (ticket.state == State.DEPLOYED) == final
    assert health.ramp_of(ticket).current_index == last
    assert health.is_at_last_stage(ticket, health.ramp_of(ticket))
