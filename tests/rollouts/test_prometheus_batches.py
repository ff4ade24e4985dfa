"""Many guards' queries in one request (promql.union), against a real Prometheus: each guard is
judged on its own query's series, with the same errors it gets when asked alone, and a union that
Prometheus refuses falls back to asking query by query."""

from datetime import timedelta

import pytest

from changemgmt.rollouts import prometheus, promql
from changemgmt.rollouts.models import Breach, Guard, GuardProbe, HealthSample

from .conftest import HEALTHY, METRICS, WEDNESDAY_10, tick
from .test_prometheus_guards import (
    TEMPLATE,
    export,
    position,
    prometheus_ticket,
    prometheus_world,  # noqa: F401 (a fixture)
)


@pytest.fixture
def requests_sent(monkeypatch):
    """The query text of every HTTP request the sweeper sends (the real requests still go)."""
    sent = []
    real = prometheus._post

    def counted(text):
        sent.append(text)
        return real(text)

    monkeypatch.setattr(prometheus, "_post", counted)
    return sent


@pytest.mark.parametrize(
    "query, together",
    [
        (TEMPLATE.format(metric="error_rate"), True),
        ('sum(rate(x{a="(",b="]"}[5m])) / sum(rate(y[5m]))', True),
        ("scalar(up)", True),
        ('x, "changemgmt_guard", "3", "", "") or label_replace(y', False),  # would leave its call
        ("x) or (y", False),
        ("sum(x[5m]", False),
        ('x # a comment eats ")" to the end of the line', False),
        ("x{a=`)`}", True),
        ("", False),
    ],
)
def test_only_a_self_contained_expression_is_asked_in_a_union(query, together):
    assert promql.batchable(query) is together


def test_one_request_asks_two_tickets_guards_and_each_is_judged_on_its_own_series(
    prometheus_world,  # noqa: F811
    exporter,
    author,
    release_manager,
    requests_sent,
):
    healthy = prometheus_ticket(author, release_manager, slug="support-assistant")
    breaching = prometheus_ticket(author, release_manager, slug="search-summaries")
    export(exporter, prometheus_world, healthy)
    export(exporter, prometheus_world, breaching, error_rate=0.03)
    requests_sent.clear()

    done = tick(WEDNESDAY_10 + timedelta(minutes=5))
    assert done == [(breaching.change_id, "halted: error_rate 0.03 > 0.02 at 1% stage")]
    assert len(requests_sent) == 1  # 8 guards, one union
    assert position(healthy) == ("ramping", 0)
    assert Breach.objects.get().ticket == breaching
    for ticket, error_rate in ((healthy, HEALTHY["error_rate"]), (breaching, 0.03)):
        samples = HealthSample.objects.filter(ticket=ticket, source="prometheus")
        assert {s.metric: s.value for s in samples} == {**HEALTHY, "error_rate": error_rate}
        query = samples.get(metric="error_rate").query
        assert query == TEMPLATE.format(metric="error_rate").replace(
            "{feature}", ticket.feature.slug
        ).replace("{change_id}", ticket.change_id)  # the guard's own query, not the union


def test_a_guard_whose_query_has_several_series_is_inconclusive_in_a_union_too(
    prometheus_world,  # noqa: F811
    exporter,
    author,
    release_manager,
    requests_sent,
):
    ticket = prometheus_ticket(author, release_manager)
    Guard.objects.filter(ticket=ticket, metric="error_rate").update(
        query='canary_health{change_id="{change_id}"}'  # not aggregated: one series per metric
    )
    export(exporter, prometheus_world, ticket)
    prometheus_world.wait_for(f'count(canary_health{{change_id="{ticket.change_id}"}})', 4)
    requests_sent.clear()

    assert tick(WEDNESDAY_10 + timedelta(minutes=5)) == []
    assert len(requests_sent) == 1
    probe = GuardProbe.objects.get(guard__ticket=ticket, guard__metric="error_rate")
    assert probe.consecutive_failures == 1
    assert probe.last_error == (
        f"the query returned {len(METRICS)} series; aggregate it to one number"
    )
    stored = HealthSample.objects.filter(ticket=ticket).values_list("metric", flat=True)
    assert sorted(stored) == sorted(set(METRICS) - {"error_rate"})


def test_a_union_prometheus_refuses_is_asked_query_by_query(
    prometheus_world,  # noqa: F811
    exporter,
    author,
    release_manager,
    requests_sent,
):
    ticket = prometheus_ticket(author, release_manager)
    # A scalar answers fine alone, but label_replace() takes no scalar: the union is refused.
    Guard.objects.filter(ticket=ticket, metric="error_rate").update(
        query=f"scalar({TEMPLATE.format(metric='error_rate')})"
    )
    export(exporter, prometheus_world, ticket, error_rate=0.03)
    requests_sent.clear()

    done = tick(WEDNESDAY_10 + timedelta(minutes=5))
    assert done == [(ticket.change_id, "halted: error_rate 0.03 > 0.02 at 1% stage")]
    assert len(requests_sent) == 1 + len(METRICS)  # the refused union, then each alone
    assert HealthSample.objects.filter(ticket=ticket).count() == len(METRICS)
    assert not GuardProbe.objects.filter(guard__ticket=ticket, consecutive_failures__gt=0).exists()
