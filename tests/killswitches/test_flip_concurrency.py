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


def test_every_document_built_during_concurrent_flips_shows_the_switches_as_of_its_version(
    platform_team, feature_switches
):
    """Documents are rendered from a snapshot while bumps go on: each one must still hold
    exactly the switches after the flips up to its version, and none before or after."""
    import json

    from changemgmt.killswitches.models import PolicyDocument

    start_version = policy.current_version()
    flips, errors = [], []
    barrier = threading.Barrier(FLIPPERS)

    def flipping(slug):
        client = Client()
        client.force_login(platform_team)
        try:
            barrier.wait(timeout=30)
            for n in range(ROUNDS):
                engaged = n % 2 == 0
                response = client.post(
                    flip_url(slug),
                    {"engaged": engaged, "reason": f"drill round {n}"},
                    content_type="application/json",
                )
                assert response.status_code == 200, response.content[:200]
                flips.append((response.json()["version"], slug, engaged))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    run_threads([(flipping, (s.feature.slug,)) for s in feature_switches])
    assert errors == []
    versions = sorted(v for v, _, _ in flips)
    assert versions == list(range(start_version + 1, start_version + 1 + FLIPPERS * ROUNDS))
    state = {s.feature.slug: False for s in feature_switches}  # the factory's: released
    as_of = {}
    for version, slug, engaged in sorted(flips):
        state[slug] = engaged
        as_of[version] = dict(state)
    docs = PolicyDocument.objects.filter(version__gt=start_version).order_by("version")
    assert docs.exists()
    assert docs.last().version == versions[-1], "the last bump has its document"
    for doc in docs:
        shown = json.loads(doc.json_text)["feature_kill_switches"]
        assert {slug: not shown[slug]["enabled"] for slug in state} == as_of[doc.version], (
            f"v{doc.version} does not show the switches as of v{doc.version}"
        )
        assert f"# policy-version: {doc.version}\n" in doc.yaml_text


def test_a_bump_commits_while_a_document_is_being_built(platform_team, feature_switches):
    """The counter row is not held by a build: while a builder holds the build lock (as during
    a slow render), a flip's bump commits, and the flip answers without waiting for the lock.
    Its document is the builder's to build (test_build_behind.py has a real builder look again);
    this one is a bare session that never does, so the first read builds it."""
    import psycopg
    from django.conf import settings

    from changemgmt.killswitches.models import PolicyDocument
    from changemgmt.killswitches.services import killswitch_flip

    db = settings.DATABASES["default"]
    builder = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname=db["NAME"],
        autocommit=True,
    )
    before = policy.current_version()
    builder.execute("SELECT pg_advisory_lock(%s)", [policy.BUILD_LOCK])
    done = []

    def flipping():
        try:
            done.append(
                killswitch_flip(
                    "feature",
                    feature_switches[0].feature.slug,
                    engaged=True,
                    reason="drill",
                    acting_user=platform_team,
                ).version
            )
        finally:
            connection.close()

    thread = threading.Thread(target=flipping)
    thread.start()
    try:
        for _ in range(200):  # the bump is visible to another session, the lock still held
            found = builder.execute(
                "SELECT current FROM killswitches_policyversion WHERE id = 1"
            ).fetchone()
            if found and found[0] > before:
                break
            threading.Event().wait(0.05)  # another thread's progress, not a clock rule
        else:
            raise AssertionError("the bump did not commit while the build lock was held")
        assert not PolicyDocument.objects.filter(version=found[0]).exists()
        thread.join(timeout=10)
        assert done == [found[0]], "the flip waited for the build lock"
    finally:
        builder.execute("SELECT pg_advisory_unlock(%s)", [policy.BUILD_LOCK])
        thread.join(timeout=60)
        builder.close()
    assert policy.served().version == found[0]
    assert PolicyDocument.objects.filter(version=found[0]).exists()
