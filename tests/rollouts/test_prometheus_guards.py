"""Guards that read Prometheus, against a real Prometheus scraping an exporter the test controls.

The ramp's clock is moved with time-machine (bakes of 30 minutes pass in a test); Prometheus only
has data for the real present, so each tick's query asks for Prometheus's own "now" and the answer
is filed under the tick's instant (changemgmt.rollouts.prometheus explains the choice).
"""

from datetime import timedelta

import pytest

from changemgmt.catalog.models import TierPolicy
from changemgmt.rollouts.models import Breach, FeatureGuardTemplate, GuardProbe, HealthSample
from changemgmt.rollouts.promql import escape
from tests.factories import FeatureFactory, TicketFactory

from .conftest import HEALTHY, METRICS, WEDNESDAY_10, start, tick

MIN_SAMPLES = 3
TEMPLATE = 'max(canary_health{{feature="{{feature}}",change_id="{{change_id}}",metric="{metric}"}})'


@pytest.fixture
def prometheus_world(settings, prometheus_server, window_policy, db):
    settings.PROMETHEUS_URL = prometheus_server.url
    settings.PROMETHEUS_FAILURES_TO_HALT = 3
    TierPolicy.objects.create(
        tier="medium",
        default_ramp=[
            {"percent": 1, "bake_minutes": 30},
            {"percent": 10, "bake_minutes": 240},
            {"percent": 50, "bake_minutes": 1440},
            {"percent": 100, "bake_minutes": 0},
        ],
        min_samples_per_stage=MIN_SAMPLES,
    )
    return prometheus_server


def prometheus_ticket(author, release_manager, slug="support-assistant"):
    feature = FeatureFactory(
        slug=slug, risk_tier="medium", users_served=4_000_000, regions=["AU", "CA", "EU", "US"]
    )
    for metric in METRICS:
        FeatureGuardTemplate.objects.create(
            feature=feature, metric=metric, query=TEMPLATE.format(metric=metric)
        )
    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        feature=feature,
        users_affected=4_000_000,
        regions=["AU", "CA", "EU", "US"],
        max_traffic_percent=50,
        state="scheduled",
        planned_start=WEDNESDAY_10,
    )
    assert {g.source for g in ticket.guards.all()} == {"prometheus"}
    return start(ticket, release_manager)


def export(exporter, prometheus, ticket, **overrides):
    values = {**HEALTHY, **overrides}
    for metric, value in values.items():
        exporter.set(
            "canary_health",
            {"feature": ticket.feature.slug, "change_id": ticket.change_id, "metric": metric},
            value,
        )
    for metric, value in values.items():
        prometheus.wait_for(
            TEMPLATE.format(metric=metric)
            .replace("{feature}", escape(ticket.feature.slug))
            .replace("{change_id}", escape(ticket.change_id)),
            value,
        )


def position(ticket):
    ticket.refresh_from_db()
    ticket.ramp.refresh_from_db()
    return ticket.state, ticket.ramp.current_index


def test_it_promotes_on_a_healthy_series(
    prometheus_world,
    exporter,
    author,
    release_manager,
):
    ticket = prometheus_ticket(author, release_manager)
    export(exporter, prometheus_world, ticket)
    for minute in (5, 10, 15):
        assert tick(WEDNESDAY_10 + timedelta(minutes=minute)) == []  # still baking
    samples = HealthSample.objects.filter(ticket=ticket, source="prometheus")
    assert samples.count() == MIN_SAMPLES * len(METRICS)
    sample = samples.get(metric="error_rate", observed_at=WEDNESDAY_10 + timedelta(minutes=5))
    assert sample.value == HEALTHY["error_rate"]
    assert f'change_id="{ticket.change_id}"' in sample.query
    assert sample.query_instant is not None  # the real instant Prometheus evaluated

    done = tick(WEDNESDAY_10 + timedelta(minutes=31))
    assert done == [(ticket.change_id, "promoted to 10%")]
    assert position(ticket) == ("ramping", 1)


def test_it_halts_on_a_breaching_series(
    prometheus_world,
    exporter,
    author,
    release_manager,
):
    ticket = prometheus_ticket(author, release_manager)
    export(exporter, prometheus_world, ticket, error_rate=0.03)  # halt above 0.02
    done = tick(WEDNESDAY_10 + timedelta(minutes=5))
    assert done == [(ticket.change_id, "halted: error_rate 0.03 > 0.02 at 1% stage")]
    breach = Breach.objects.get(ticket=ticket)
    assert (breach.metric, breach.value, breach.severe) == ("error_rate", 0.03, False)
    assert position(ticket) == ("halted", 0)


def test_it_rolls_back_on_a_severe_series(
    prometheus_world,
    exporter,
    author,
    release_manager,
):
    ticket = prometheus_ticket(author, release_manager)
    export(exporter, prometheus_world, ticket, error_rate=0.08)  # roll back above 0.05
    done = tick(WEDNESDAY_10 + timedelta(minutes=5))
    assert done == [(ticket.change_id, "rolled back: error_rate 0.08 > 0.05 at 1% stage")]
    assert Breach.objects.get(ticket=ticket).severe
    assert position(ticket)[0] == "rolled_back"


def test_it_holds_then_halts_when_prometheus_is_unreachable(
    prometheus_world,
    exporter,
    author,
    release_manager,
    settings,
):
    ticket = prometheus_ticket(author, release_manager)
    export(exporter, prometheus_world, ticket)
    for minute in (5, 10, 15):
        tick(WEDNESDAY_10 + timedelta(minutes=minute))  # enough healthy samples
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{_closed_port()}"

    done = tick(WEDNESDAY_10 + timedelta(minutes=31))  # bake over, samples in, but no answer
    assert done[0][0] == ticket.change_id
    assert done[0][1].startswith("held: Inconclusive Prometheus guards (held): ")
    assert "unreachable" in done[0][1]
    assert position(ticket) == ("ramping", 0)
    assert tick(WEDNESDAY_10 + timedelta(minutes=32))[0][1].startswith("held: Inconclusive")

    ((change_id, outcome),) = tick(WEDNESDAY_10 + timedelta(minutes=33))  # third failure in a row
    assert outcome.startswith("halted: Prometheus guard error_rate inconclusive 3 times")
    assert "unreachable" in outcome
    assert position(ticket) == ("halted", 0)
    ticket.refresh_from_db()
    assert ticket.history.first().history_change_reason.startswith("halt: Prometheus guard")
    # Failures added no sample: the minimum counts successful queries only.
    assert HealthSample.objects.filter(ticket=ticket).count() == MIN_SAMPLES * len(METRICS)


def test_it_holds_when_the_query_returns_nothing(
    prometheus_world,
    exporter,
    author,
    release_manager,
):
    ticket = prometheus_ticket(author, release_manager)
    export(exporter, prometheus_world, ticket)
    for minute in (5, 10, 15):
        tick(WEDNESDAY_10 + timedelta(minutes=minute))
    exporter.clear()  # the series vanish: Prometheus marks them stale at the next scrape
    prometheus_world.wait_for(f'canary_health{{change_id="{ticket.change_id}"}}', None)

    ((change_id, outcome),) = tick(WEDNESDAY_10 + timedelta(minutes=31))
    assert outcome.startswith("held: Inconclusive Prometheus guards (held): ")
    assert "no series" in outcome
    assert position(ticket) == ("ramping", 0)
    probe = GuardProbe.objects.get(guard__ticket=ticket, guard__metric="error_rate")
    assert probe.consecutive_failures == 1


def test_a_slug_with_quotes_and_braces_does_not_escape_its_label_matcher(
    prometheus_world,
    exporter,
    author,
    release_manager,
):
    # Feature slugs are validated on save; this one is written around the validator, as a
    # hostile admin import or a future looser rule might, to prove the query itself is safe.
    evil = 'x"} or vector(0.0001) or canary_health{feature="x'
    ticket = prometheus_ticket(author, release_manager, slug=evil)
    export(exporter, prometheus_world, ticket, error_rate=0.03)  # its own series: breaching
    # Unescaped, the query would also match the look-alike series and the vector(0.0001).
    exporter.set(
        "canary_health",
        {"feature": "x", "change_id": ticket.change_id, "metric": "error_rate"},
        0.0005,
    )
    done = tick(WEDNESDAY_10 + timedelta(minutes=5))
    assert done == [(ticket.change_id, "halted: error_rate 0.03 > 0.02 at 1% stage")]
    sample = HealthSample.objects.get(ticket=ticket, metric="error_rate")
    assert sample.value == 0.03
    assert 'feature="x\\"} or vector(0.0001) or canary_health{feature=\\"x"' in sample.query


def _closed_port() -> int:
    from tests.drills.conftest import free_port

    return free_port()  # bound and released: nothing listens there
