"""Prometheus-backed guards: each tick asks Prometheus once per guard of every ramping ticket.

What is judged is stored: each answer becomes a HealthSample (`source=prometheus`, the query as
sent, the instant Prometheus evaluated), so charts, breaches and the audit show exactly what the
sweeper saw. A failed, empty, multi-series or NaN answer is inconclusive, never healthy: it adds no
sample (the minimum-samples rule counts successful queries), it holds promotion
(`prometheus_guards_answered`), and PROMETHEUS_FAILURES_TO_HALT of them in a row halt the ramp.

Which instant is queried: Prometheus's own "now" (no `time=`). The sweeper judges ramps "as of"
its tick instant, which tests and `advance_rollouts --now` move; Prometheus only holds data for
the real present, so the answer is filed under the tick's instant (`observed_at`, the stage it
belongs to) and the instant Prometheus actually evaluated is kept beside it (`query_instant`).
A replay of a past tick therefore judges today's series: replays are for pushed samples.
"""

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import urllib3
from django.conf import settings
from django.db.models import F

from changemgmt import clock
from changemgmt.tickets.models import State

from . import promql
from .models import Guard, GuardProbe, HealthSample, RampStage, SampleSource

_pool = None


@dataclass
class Answer:
    value: float | None = None
    instant: datetime | None = None
    error: str = ""


def _http():
    global _pool
    if _pool is None:
        _pool = urllib3.PoolManager(maxsize=max(1, settings.PROMETHEUS_CONCURRENCY), block=False)
    return _pool


def _number(pair) -> tuple[float, datetime]:
    timestamp, text = pair
    return float(text), datetime.fromtimestamp(float(timestamp), tz=UTC)


def parse(body: dict) -> Answer:
    """One number out of an instant query's answer, or why there is none."""
    if body.get("status") != "success":
        return Answer(error=f"Prometheus: {body.get('errorType', 'error')}: {body.get('error')}")
    data = body.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        value, instant = _number(result)
    elif kind == "vector":
        if not result:
            return Answer(error="the query returned no series (no data is not healthy)")
        if len(result) > 1:
            return Answer(
                error=f"the query returned {len(result)} series; aggregate it to one number"
            )
        value, instant = _number(result[0]["value"])
    else:
        return Answer(error=f"the query returned a {kind}, not one number")
    if math.isnan(value) or math.isinf(value):
        return Answer(instant=instant, error=f"the query returned {value}")
    return Answer(value=value, instant=instant)


def query(text: str) -> Answer:
    """Ask Prometheus one instant query with a short timeout; never raises."""
    if not settings.PROMETHEUS_URL:
        return Answer(error="PROMETHEUS_URL is not set")
    timeout = settings.PROMETHEUS_TIMEOUT
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if settings.PROMETHEUS_BEARER_TOKEN:
        headers["Authorization"] = f"Bearer {settings.PROMETHEUS_BEARER_TOKEN}"
    try:
        response = _http().request(
            "POST",
            f"{settings.PROMETHEUS_URL}/api/v1/query",
            body=urlencode({"query": text, "timeout": f"{timeout:g}s"}),
            headers=headers,
            timeout=urllib3.Timeout(total=timeout),
            retries=False,
        )
    except (urllib3.exceptions.HTTPError, OSError) as failure:
        return Answer(error=f"Prometheus unreachable: {type(failure).__name__}: {failure}")
    try:
        body = json.loads(response.data or b"{}")
    except ValueError:
        return Answer(error=f"Prometheus answered HTTP {response.status}, not JSON")
    if response.status >= 400 and body.get("status") != "error":
        return Answer(error=f"Prometheus answered HTTP {response.status}")
    try:
        return parse(body)
    except (KeyError, TypeError, ValueError, IndexError) as failure:
        return Answer(error=f"Prometheus answered something unreadable: {failure}")


def guards_to_poll():
    """(guard, query text, stage index) for every Prometheus guard of every ramping ticket."""
    guards = list(
        Guard.objects.filter(
            source=SampleSource.PROMETHEUS,
            ticket__state=State.RAMPING,
            ticket__ramp__current_index__gte=0,
        )
        .select_related("ticket__feature", "ticket__ramp")
        .order_by("ticket_id", "metric")
    )
    if not guards:
        return []
    wanted = {(g.ticket_id, g.ticket.ramp.current_index) for g in guards}
    stages = {
        (s.ticket_id, s.index): s
        for s in RampStage.objects.filter(ticket_id__in={t for t, _ in wanted})
        if (s.ticket_id, s.index) in wanted
    }
    jobs = []
    for guard in guards:
        stage = stages.get((guard.ticket_id, guard.ticket.ramp.current_index))
        if stage is not None:
            values = promql.values_for(guard.ticket, stage)
            jobs.append((guard, promql.render(guard.query, values), stage.index))
    return jobs


def poll(now: datetime) -> dict:
    """Query every Prometheus guard once and store the answers. Returns the counts for the tick's
    log and `halting`: tickets whose guard has now failed PROMETHEUS_FAILURES_TO_HALT in a row.

    Without PROMETHEUS_URL nothing is asked (and the tick costs no query): guards made while it
    was set get no samples, so their ramps hold as inconclusive at the end of the bake."""
    if not settings.PROMETHEUS_URL:
        return {"queries": 0, "failed": 0, "halting": set()}
    jobs = guards_to_poll()
    if not jobs:
        return {"queries": 0, "failed": 0, "halting": set()}
    workers = max(1, min(settings.PROMETHEUS_CONCURRENCY, len(jobs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prometheus") as pool:
        answers = list(pool.map(query, [text for _, text, _ in jobs]))
    received = clock.now()
    samples, answered, failed = [], [], []
    for (guard, text, stage_index), answer in zip(jobs, answers, strict=True):
        if answer.error:
            failed.append((guard, answer.error))
            continue
        answered.append(guard.pk)
        samples.append(
            HealthSample(
                ticket_id=guard.ticket_id,
                stage_index=stage_index,
                metric=guard.metric,
                value=answer.value,
                observed_at=now,
                received_at=received,
                source=SampleSource.PROMETHEUS,
                query=text,
                query_instant=answer.instant,
            )
        )
    # A redelivered tick (same `now`) files nothing twice: samples are unique per observation.
    HealthSample.objects.bulk_create(samples, ignore_conflicts=True)
    _record_probes(answered, failed, now)
    halting = set()
    if failed:
        halting = set(
            GuardProbe.objects.filter(
                guard_id__in=[g.pk for g, _ in failed],
                guard__observe_only=False,
                consecutive_failures__gte=settings.PROMETHEUS_FAILURES_TO_HALT,
            ).values_list("guard__ticket_id", flat=True)
        )
    return {"queries": len(jobs), "failed": len(failed), "halting": halting}


def _record_probes(answered: list[int], failed: list, now: datetime):
    GuardProbe.objects.bulk_create(
        [GuardProbe(guard_id=pk) for pk in answered + [g.pk for g, _ in failed]],
        ignore_conflicts=True,
    )
    # GuardProbe keeps no history (operational counters), so update() is the right tool here.
    GuardProbe.objects.filter(guard_id__in=answered).update(
        consecutive_failures=0, last_error="", last_query_at=now
    )
    for guard, error in failed:
        GuardProbe.objects.filter(guard_id=guard.pk).update(
            consecutive_failures=F("consecutive_failures") + 1,
            last_error=error[:1000],
            last_query_at=now,
        )


def failing_guard(ticket):
    """The ticket's gating Prometheus guard that failed too often in a row, as (guard, probe)."""
    probe = (
        GuardProbe.objects.filter(
            guard__ticket=ticket,
            guard__observe_only=False,
            consecutive_failures__gte=settings.PROMETHEUS_FAILURES_TO_HALT,
        )
        .select_related("guard")
        .order_by("guard__metric")
        .first()
    )
    return (probe.guard, probe) if probe else None


def unanswered_guards(ticket) -> list:
    """Gating Prometheus guards whose latest query was inconclusive, as (guard, probe)."""
    return [
        (probe.guard, probe)
        for probe in GuardProbe.objects.filter(
            guard__ticket=ticket, guard__observe_only=False, consecutive_failures__gt=0
        )
        .select_related("guard")
        .order_by("guard__metric")
    ]


def reset_probes(ticket):
    """A resume gives every Prometheus guard a fresh run of tries."""
    GuardProbe.objects.filter(guard__ticket=ticket).update(consecutive_failures=0, last_error="")
