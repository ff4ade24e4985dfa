"""A real Celery worker (in-process, solo pool) on the configured broker: Redis when REDIS_URL is
set, else kombu's filesystem transport in tmp_path. Each test uses its own queue so workers of
other test runs sharing the broker never take our messages. We wait for the worker with a bounded
poll on task completions; time rules are driven by the `now` passed to the task, never by sleeping.
"""

import pytest

from changemgmt.audit.recording import SYSTEM_USERNAME
from changemgmt.rollouts import tasks
from changemgmt.rollouts.gateway import active_ramps
from changemgmt.rollouts.models import Breach
from tests.conftest import real_worker
from tests.rollouts.conftest import feed, ny, stage_percent

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def running_worker(tmp_path_factory):
    """One worker for the module (starting and stopping one takes seconds)."""
    folder = tmp_path_factory.mktemp("broker")
    with real_worker(folder, "rollouts-test", tasks.advance_rollouts) as running:
        yield running


@pytest.fixture
def worker(running_worker):
    """(send(now), wait_for(count)): count tasks finished since this test began."""
    queue, finishes = running_worker
    since = len(finishes.results)

    def send(now):
        tasks.advance_rollouts.apply_async(kwargs={"now": now.isoformat()}, queue=queue)

    return send, lambda count: finishes.wait(count, since=since)


@pytest.fixture
def at_ten_percent(ramping_ticket, worker):
    """The ramp promoted once (1% → 10% at 10:30) by the worker: the test's first task."""
    send, wait_for = worker
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    send(ny(2027, 2, 10, 10, 30))
    wait_for(1)
    assert stage_percent(ramping_ticket) == 10
    return ramping_ticket


def test_it_plays_the_worked_example_through_a_worker(at_ten_percent, worker):
    send, wait_for = worker
    ticket = at_ten_percent
    feed(ticket, ny(2027, 2, 10, 10, 40))
    send(ny(2027, 2, 10, 14, 30))
    wait_for(2)
    assert stage_percent(ticket) == 50
    feed(ticket, ny(2027, 2, 10, 15, 0))
    send(ny(2027, 2, 11, 14, 30))
    wait_for(3)
    ticket.refresh_from_db()
    assert ticket.state == "deployed"
    assert stage_percent(ticket) == 100


def test_it_moves_one_stage_when_a_tick_is_delivered_twice(ramping_ticket, worker):
    send, wait_for = worker
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    at = ny(2027, 2, 10, 10, 31)
    send(at)
    send(at)
    wait_for(2)
    assert stage_percent(ramping_ticket) == 10
    assert ramping_ticket.history.filter(history_change_reason__startswith="promote").count() == 1


def test_it_halts_on_a_breach_through_a_worker(at_ten_percent, worker):
    send, wait_for = worker
    ticket = at_ten_percent
    feed(ticket, ny(2027, 2, 10, 11, 0), n=1, error_rate=0.031)
    send(ny(2027, 2, 10, 11, 1))
    wait_for(2)
    ticket.refresh_from_db()
    assert ticket.state == "halted"
    assert ticket.last_reason == "error_rate 0.031 > 0.02 at 10% stage"
    assert stage_percent(ticket) == 10  # traffic held where it is
    [ramp] = active_ramps()
    assert (ramp["state"], ramp["traffic_percent"]) == ("halted", 10)


def test_it_rolls_back_on_a_severe_breach_through_a_worker(at_ten_percent, worker):
    send, wait_for = worker
    ticket = at_ten_percent
    # error_rate's guard halts above 0.02 and rolls back above its severe threshold, 0.05.
    feed(ticket, ny(2027, 2, 10, 11, 0), n=1, error_rate=0.08)
    at = ny(2027, 2, 10, 11, 1)
    send(at)
    wait_for(2)
    ticket.refresh_from_db()
    sentence = "error_rate 0.08 > 0.05 at 10% stage"
    assert ticket.state == "rolled_back"
    assert ticket.last_reason == sentence
    assert ticket.rolled_back_at == at
    assert Breach.objects.get(ticket=ticket).severe
    # The candidate leaves the gateway policy: all traffic is back on the current version.
    assert active_ramps() == []
    # By id: the worker writes its history rows on the real clock, the fixtures on the moved one.
    rolled_back, before = ticket.history.order_by("-history_id")[:2]
    assert (before.state, rolled_back.state) == ("ramping", "rolled_back")
    assert rolled_back.history_user.username == SYSTEM_USERNAME
    assert rolled_back.history_change_reason == f"roll_back: {sentence}"
    stage = ticket.ramp_stages.get(percent=10)
    assert stage.completed_at == at
