"""Two sweepers at once (two workers, or a redelivery racing the original) move one stage."""

import threading

import pytest
from django.db import connection

from changemgmt.rollouts.sweeper import advance_all
from tests.rollouts.conftest import feed, ny, stage_percent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_moves_one_stage_when_two_workers_tick_at_once(ramping_ticket):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    at = ny(2027, 2, 10, 10, 31)
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def sweep():
        try:
            barrier.wait(timeout=10)
            outcomes.append(advance_all(at))
        except Exception as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert sorted(len(done) for done in outcomes) == [0, 1]
    assert stage_percent(ramping_ticket) == 10
    assert ramping_ticket.history.filter(history_change_reason__startswith="promote").count() == 1
