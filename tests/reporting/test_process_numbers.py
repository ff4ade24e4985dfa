from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changemgmt.audit.recording import save_audited
from changemgmt.reporting.metrics import percentile, process_numbers
from tests.factories import FeatureFactory, TicketFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


def ago(**kwargs):
    return NOW - timedelta(**kwargs)


def force_state(ticket, state, actor, at):
    """Write a lifecycle history row as a transition would (the metrics read these records)."""
    ticket.__dict__.pop("state", None)  # FSMField(protected=True) refuses a plain reassignment
    ticket.state = state
    with time_machine.travel(at, tick=False):
        save_audited(ticket, acting_user=actor, reason=state)


def ticket(author, **timestamps):
    t = TicketFactory(author=author)
    for name, value in timestamps.items():
        setattr(t, name, value)
    save_audited(t, acting_user=author, reason="timestamps")
    return t


def test_it_computes_the_change_failure_rate_over_90_days(author):
    ticket(author, started_at=ago(days=3))
    ticket(author, started_at=ago(days=10))
    ticket(author, started_at=ago(days=20))
    ticket(author, started_at=ago(days=20), rolled_back_at=ago(days=19))
    ticket(author, started_at=ago(days=100), rolled_back_at=ago(days=99))  # outside the window
    numbers = process_numbers(now=NOW)["failure_rate"]
    assert (numbers["started"], numbers["rolled_back"], numbers["rate"]) == (4, 1, 25.0)
    week = next(w for w in numbers["weeks"] if w["rolled_back"])
    assert (week["started"], week["rate"]) == (2, 50.0)


def test_it_computes_lead_time_median_and_p90(author):
    for hours in (10, 20, 30):
        ticket(author, submitted_at=ago(days=5, hours=hours), deployed_at=ago(days=5))
    ticket(author, submitted_at=ago(days=5))  # not deployed: no lead time yet
    numbers = process_numbers(now=NOW)["lead_time"]
    assert (numbers["count"], numbers["median_hours"], numbers["p90_hours"]) == (3, 20.0, 30.0)


def test_it_computes_time_to_restore_from_halt_to_resume_or_roll_back(author, release_manager):
    resumed = TicketFactory(author=author)
    force_state(resumed, "ramping", release_manager, ago(days=2, hours=2))
    force_state(resumed, "halted", release_manager, ago(days=2, hours=1))
    force_state(resumed, "ramping", release_manager, ago(days=2, minutes=30))
    rolled_back = TicketFactory(author=author)
    force_state(rolled_back, "ramping", release_manager, ago(days=1, hours=3))
    force_state(rolled_back, "halted", release_manager, ago(days=1, hours=2))
    force_state(rolled_back, "rolled_back", release_manager, ago(days=1, minutes=30))
    still = TicketFactory(author=author)
    force_state(still, "ramping", release_manager, ago(hours=2))
    force_state(still, "halted", release_manager, ago(hours=1))
    numbers = process_numbers(now=NOW)["restore"]
    assert numbers["count"] == 2
    assert (numbers["median_minutes"], numbers["p90_minutes"]) == (30.0, 90.0)
    assert numbers["still_halted"] == 1


def test_it_counts_emergency_changes(author):
    ticket(author, emergency=True, emergency_justification="jailbreak", approved_at=ago(days=1))
    ticket(author, emergency=True, emergency_justification="jailbreak", approved_at=ago(days=40))
    ticket(author, emergency=True, emergency_justification="old", approved_at=ago(days=200))
    ticket(author, approved_at=ago(days=1))
    assert process_numbers(now=NOW)["emergency"]["count"] == 2


def test_it_counts_kill_switch_freshness(platform_team):
    FeatureSwitch = apps.get_model("killswitches", "FeatureSwitch")
    for slug, last in (
        ("a", ago(days=10)),
        ("b", ago(days=100)),
        ("c", ago(days=200)),
        ("d", None),
    ):
        save_audited(
            FeatureSwitch(
                feature=FeatureFactory(slug=slug, switch=False),
                fallback="x",
                last_exercised_at=last,
            ),
            acting_user=platform_team,
            reason="test",
        )
    assert process_numbers(now=NOW)["freshness"] == {"green": 1, "amber": 1, "stale": 2}


def test_its_query_count_does_not_grow_with_the_data(author):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            process_numbers(now=NOW)
        return len(captured)

    ticket(author, started_at=ago(days=3), submitted_at=ago(days=4), deployed_at=ago(days=2))
    few = queries()
    for _ in range(15):
        ticket(author, started_at=ago(days=3), submitted_at=ago(days=4), deployed_at=ago(days=2))
    assert queries() == few


def test_it_takes_the_nearest_rank_percentile():
    assert percentile([], 50) is None
    assert percentile([5], 90) == 5
    assert percentile(list(range(1, 11)), 50) == 5
    assert percentile(list(range(1, 11)), 90) == 9


def test_the_dashboard_shows_the_numbers_with_charts_and_a_table(client, auditor, author):
    ticket(author, started_at=ago(days=3), rolled_back_at=ago(days=2))
    client.force_login(auditor)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="process-numbers"' in html
    assert "100.0%" in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert 'id="process-numbers-data"' in html
    assert 'id="process-numbers-table"' in html
    assert "cdn" not in html.lower()


def test_the_chart_data_names_the_charts_with_nothing_to_plot(author):
    from changemgmt.reporting.metrics import chart_data

    empty = chart_data(process_numbers(now=NOW))["empty"]
    assert all(empty.values())
    ticket(author, started_at=ago(days=3))
    data = chart_data(process_numbers(now=NOW))
    assert data["empty"]["failure_rate"] is False and data["empty"]["lead_time"] is True
    assert None in data["failure_rate"]  # the weeks without a started ramp stay gaps
