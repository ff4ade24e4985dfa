"""Flips and ramp ticks at once on PostgreSQL: no deadlock, no 5xx, every flip applied.

Before: a flip locked the audit head (its first history row) and then the policy counter, while
the after-commit document build locked the counter and then the head: 16 of 40 flips by five
threads answered 500 `deadlock detected`.
"""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client

from changemgmt.killswitches import policy
from tests.factories import FeatureFactory, TicketFactory
from tests.rollouts.conftest import WEDNESDAY_10, feed, only_ramp_guards, start  # noqa: F401

from .factories import FeatureSwitchFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FLIPPERS, ROUNDS = 5, 8


def flip_url(slug):
    return f"/api/v1/kill-switches/feature/{slug}/flip/"


def flipper(user, slug, statuses, errors, barrier):
    client = Client()
    client.force_login(user)
    try:
        barrier.wait(timeout=30)
        for n in range(ROUNDS):
            response = client.post(
                flip_url(slug),
                {"engaged": n % 2 == 0, "reason": f"drill round {n}"},
                content_type="application/json",
            )
            statuses.append((slug, n, response.status_code, response.content[:200]))
    except Exception as exc:  # surfaced below: a thread's exception is otherwise lost
        errors.append(exc)
    finally:
        connection.close()


def run_threads(targets):
    threads = [threading.Thread(target=t, args=a) for t, a in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (a lock wait?)"


@pytest.fixture
def feature_switches(db):
    return [
        FeatureSwitchFactory(feature=FeatureFactory(slug=f"drill-feature-{n}"))
        for n in range(FLIPPERS)
    ]


def assert_every_flip_applied(statuses, switches, flips):
    bad = [s for s in statuses if s[2] != 200]
    assert bad == [], f"{len(bad)} of {len(statuses)} flips failed: {bad[:3]}"
    assert len(statuses) == flips
    for switch in switches:
        switch.refresh_from_db()
        assert switch.engaged is (ROUNDS % 2 == 1)  # the last round (ROUNDS - 1) engaged it
    assert policy.current_version() >= flips


def test_it_flips_five_switches_from_five_threads_without_a_deadlock(
    platform_team, feature_switches, capsys
):
    statuses, errors = [], []
    barrier = threading.Barrier(FLIPPERS)
    run_threads(
        [
            (flipper, (platform_team, s.feature.slug, statuses, errors, barrier))
            for s in feature_switches
        ]
    )
    assert errors == []
    assert_every_flip_applied(statuses, feature_switches, FLIPPERS * ROUNDS)
    call_command("verify_audit", "--no-checkpoints")
    assert "intact" in capsys.readouterr().out


RAMPS = 12


@pytest.fixture
def due_ramps(author, release_manager, db):
    from changemgmt.windows.models import WindowPolicy

    WindowPolicy.objects.get_or_create(
        active=True, defaults={"name": "Standard release window", "timezone": "America/New_York"}
    )
    tickets = []
    for n in range(RAMPS):
        feature = FeatureFactory(slug=f"ramp-feature-{n}", risk_tier="medium")
        with time_machine.travel(WEDNESDAY_10 - timedelta(days=2), tick=False):
            ticket = TicketFactory(
                author=author,
                release_manager=release_manager,
                feature=feature,
                state="scheduled",
                planned_start=WEDNESDAY_10,
            )
        ticket = start(ticket, release_manager)
        feed(ticket, WEDNESDAY_10 + timedelta(minutes=10))
        tickets.append(ticket)
    return tickets


def test_it_flips_while_two_ticks_advance_many_due_ramps(
    platform_team, feature_switches, due_ramps, capsys
):
    from changemgmt.rollouts.sweeper import advance_all

    at = WEDNESDAY_10 + timedelta(minutes=31)
    statuses, errors, advanced = [], [], []
    barrier = threading.Barrier(FLIPPERS + 2)

    def ticker():
        try:
            barrier.wait(timeout=30)
            advanced.extend(advance_all(at))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    with time_machine.travel(at, tick=True):  # one travel for every thread: it is global
        run_threads(
            [(ticker, ()), (ticker, ())]
            + [
                (flipper, (platform_team, s.feature.slug, statuses, errors, barrier))
                for s in feature_switches
            ]
        )
    assert errors == []
    assert_every_flip_applied(statuses, feature_switches, FLIPPERS * ROUNDS)
    assert len(advanced) == RAMPS  # each due ramp promoted exactly once, by one of the two ticks
    call_command("verify_audit", "--no-checkpoints")
    assert "intact" in capsys.readouterr().out
