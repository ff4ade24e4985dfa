"""Ramp test data: a Medium-tier ticket like the article's worked example, started on Wednesday
10:00 America/New_York, and helpers that post health samples."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from changemgmt.tickets import services as ticket_services
from tests.factories import FeatureFactory, TicketFactory
from tests.prometheus_server import _exporter_server, exporter, prometheus_server  # noqa: F401

NY = ZoneInfo("America/New_York")
METRICS = ("eval_score_drift", "negative_feedback_rate", "error_rate", "latency_p95_ms")
HEALTHY = {
    "eval_score_drift": 0.001,
    "negative_feedback_rate": 0.01,
    "error_rate": 0.002,
    "latency_p95_ms": 900.0,
}
ROLLOUT_GUARDS = {
    "ramp_plan_is_valid",
    "stage_bake_has_elapsed",
    "stage_has_minimum_samples",
    "every_gating_guard_is_healthy",
    "prometheus_guards_answered",
    "every_breach_is_acknowledged",
    "promotion_is_inside_a_window_and_outside_freezes",
}


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


WEDNESDAY_10 = ny(2027, 2, 10, 10, 0)


@pytest.fixture(autouse=True)
def only_ramp_guards(select_guards):
    """Keep the ramp's own guards and the window rule on promotions; the kill-switch freshness
    and booked-slot rules on `start` are covered by their own apps' tests."""
    select_guards(ROLLOUT_GUARDS, on=("start", "promote", "resume"))


@pytest.fixture
def window_policy(db):
    from changemgmt.windows.models import WindowPolicy

    return WindowPolicy.objects.get_or_create(
        active=True, defaults={"name": "Standard release window", "timezone": "America/New_York"}
    )[0]


@pytest.fixture
def support_assistant(db):
    return FeatureFactory(
        slug="support-assistant",
        risk_tier="medium",
        customer_facing=True,
        users_served=4_000_000,
        fallback="human-agent-queue",
        regions=["AU", "CA", "EU", "US"],
    )


@pytest.fixture
def scheduled_ticket(author, release_manager, support_assistant, window_policy):
    """A scheduled Medium-tier ticket with the tier's default plan (1% → 10% → 50% → 100%)."""
    with time_machine.travel(WEDNESDAY_10 - timedelta(days=2), tick=False):
        return TicketFactory(
            author=author,
            release_manager=release_manager,
            feature=support_assistant,
            users_affected=4_000_000,
            regions=["AU", "CA", "EU", "US"],
            max_traffic_percent=50,
            state="scheduled",
            planned_start=WEDNESDAY_10,
        )


def start(ticket, release_manager, at=WEDNESDAY_10):
    with time_machine.travel(at, tick=False):
        ticket_services.ticket_transition(ticket, "start", acting_user=release_manager)
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def ramping_ticket(scheduled_ticket, release_manager):
    return start(scheduled_ticket, release_manager)


def feed(ticket, at, n=20, user=None, **values):
    """Post `n` samples of every metric observed at `at` (healthy unless overridden).

    The n observations are a millisecond apart: a sample is identified by its metric and
    observation time, so n identical rows would be one observation (and n - 1 duplicates)."""
    from changemgmt.rollouts.services import samples_record

    wanted = {**HEALTHY, **values}
    rows = [
        {"metric": metric, "value": wanted[metric], "observed_at": at + timedelta(milliseconds=k)}
        for metric in METRICS
        for k in range(n)
    ]
    with time_machine.travel(at + timedelta(seconds=5), tick=False):
        return samples_record(ticket, acting_user=user, samples=rows)


def tick(at):
    from changemgmt.rollouts.sweeper import advance_all

    with time_machine.travel(at, tick=False):
        return advance_all(at)


def stage_percent(ticket) -> int:
    ticket.refresh_from_db()
    ramp = ticket.ramp
    ramp.refresh_from_db()
    return ticket.ramp_stages.get(index=ramp.current_index).percent
