"""Run in a subprocess against the drill's own database: N Medium-tier tickets ramping at 1% since
Wednesday 10:00 (America/New_York), with healthy samples, all due to promote at 10:30.

    python -c "import django; django.setup(); from tests.drills.ramp_setup import make; make(8)"
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

NY = ZoneInfo("America/New_York")
WEDNESDAY_10 = datetime(2027, 2, 10, 10, 0, tzinfo=NY)
DUE = WEDNESDAY_10 + timedelta(minutes=30)
TITLE_PREFIX = "Drill ramp"  # seed_demo may add ramps of its own: the drill counts only these
HEALTHY = {
    "eval_score_drift": 0.001,
    "negative_feedback_rate": 0.01,
    "error_rate": 0.002,
    "latency_p95_ms": 900.0,
}
RAMP_GUARDS = {
    "ramp_plan_is_valid",
    "stage_bake_has_elapsed",
    "stage_has_minimum_samples",
    "every_gating_guard_is_healthy",
    "every_breach_is_acknowledged",
    "promotion_is_inside_a_window_and_outside_freezes",
}


def make(count: int):
    from django.contrib.auth import get_user_model

    from changemgmt.catalog.models import AIFeature
    from changemgmt.rollouts.services import samples_record
    from changemgmt.tickets import guards
    from changemgmt.tickets.services import ticket_transition
    from tests.factories import TicketFactory

    # Only this setup process skips the start guards that belong to other drills (kill-switch
    # freshness, booked slot); the worker under test runs every guard.
    guards.select(RAMP_GUARDS, on=["start"])
    users = get_user_model().objects
    author, manager = users.get(username="author"), users.get(username="release_manager")
    observability = users.get(username="observability")
    feature = AIFeature.objects.get(slug="support-assistant")
    for number in range(count):
        with time_machine.travel(WEDNESDAY_10 - timedelta(days=2), tick=False):
            ticket = TicketFactory(
                title=f"{TITLE_PREFIX} {number + 1}",
                author=author,
                release_manager=manager,
                feature=feature,
                users_affected=4_000_000,
                regions=["AU", "CA", "EU", "US"],
                state="scheduled",
                planned_start=WEDNESDAY_10,
            )
        with time_machine.travel(WEDNESDAY_10, tick=False):
            ticket_transition(ticket, "start", acting_user=manager)
        observed = WEDNESDAY_10 + timedelta(minutes=10)
        rows = [
            {"metric": metric, "value": value, "observed_at": observed + timedelta(milliseconds=k)}
            for metric, value in HEALTHY.items()
            for k in range(20)
        ]
        with time_machine.travel(observed + timedelta(seconds=5), tick=False):
            samples_record(ticket, acting_user=observability, samples=rows)
    print(f"{count} ramping")
