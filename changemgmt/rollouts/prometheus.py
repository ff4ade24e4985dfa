"""Prometheus-backed guards: each tick asks Prometheus every guard of every ramping ticket once.

What is judged is stored: each answer becomes a HealthSample (`source=prometheus`, the query as
sent, the instant Prometheus evaluated), so charts, breaches and the audit show exactly what the
sweeper saw. A failed, empty, multi-series or NaN answer is inconclusive, never healthy: it adds no
sample (the minimum-samples rule counts successful queries), it holds promotion
(`prometheus_guards_answered`), and PROMETHEUS_FAILURES_TO_HALT of them in a row halt the ramp.

How they are asked: up to PROMETHEUS_BATCH_SIZE guards' queries go in one HTTP request, as one
union query whose series each carry the index of the query they answer (promql.union), so a tick
of 4,000 guards is 40 requests, not 4,000. Each guard is still judged on its own query's answer
(the same series, the same rules); a union Prometheus refuses is asked query by query, so a bad
template fails only its own guard, with its own error.

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


def _post(text: str) -> tuple[dict | None, str]:
    """POST one instant query with a short timeout: (its JSON body, "") or (None, why there is
    none). A body may still say `"status": "error"`: Prometheus answered, and refused."""
    if not settings.PROMETHEUS_URL:
        return None, "PROMETHEUS_URL is not set"
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
        return None, f"Prometheus unreachable: {type(failure).__name__}: {failure}"
    try:
        body = json.loads(response.data or b"{}")
    except ValueError:
        return None, f"Prometheus answered HTTP {response.status}, not JSON"
    if response.status >= 400 and body.get("status") != "error":
        return None, f"Prometheus answered HTTP {response.status}"
    return body, ""


def query(text: str) -> Answer:
    """Ask Prometheus one instant query; never raises."""
    body, error = _post(text)
    if error:
        return Answer(error=error)
    try:
        return parse(body)
    except (KeyError, TypeError, ValueError, IndexError) as failure:
        return Answer(error=f"Prometheus answered something unreadable: {failure}")


def _split(body: dict, count: int) -> list[Answer] | None:
    """Each query's Answer out of a union's answer (promql.union), or None when Prometheus
    refused the union (then each query is asked on its own, and says why itself)."""
    if body.get("status") != "success" or (body.get("data") or {}).get("resultType") != "vector":
        return None
    found = [[] for _ in range(count)]
    try:
        for series in body["data"]["result"]:
            found[int(series["metric"].pop(promql.BATCH_LABEL))].append(series)
        return [
            parse({"status": "success", "data": {"resultType": "vector", "result": series}})
            for series in found
        ]
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None


def _ask_batch(texts: list[str]) -> list[Answer]:
    """Answers to `texts` from one request when Prometheus takes their union. A request that
    fails on the way (unreachable, timed out) fails every query in it, as it would each alone."""
    if len(texts) == 1:
        return [query(texts[0])]
    body, error = _post(promql.union(texts))
    if error:
        return [Answer(error=error) for _ in texts]
    answers = _split(body, len(texts))
    return answers if answers is not None else [query(text) for text in texts]


def ask_all(texts: list[str]) -> tuple[list[Answer], int]:
    """An Answer per query text (one per distinct text: a tick asks each once), and how many
    HTTP requests it took: batches of PROMETHEUS_BATCH_SIZE queries, PROMETHEUS_CONCURRENCY of
    them in flight at once."""
    distinct = list(dict.fromkeys(texts))
    size = max(1, settings.PROMETHEUS_BATCH_SIZE)
    together = [text for text in distinct if promql.batchable(text)]
    batches = [together[i : i + size] for i in range(0, len(together), size)]
    batches += [[text] for text in distinct if not promql.batchable(text)]
    workers = max(1, min(settings.PROMETHEUS_CONCURRENCY, len(batches)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prometheus") as pool:
        answered = list(pool.map(_ask_batch, batches))
    by_text = {}
    for batch, answers in zip(batches, answered, strict=True):
        by_text.update(zip(batch, answers, strict=True))
    return [by_text[text] for text in texts], len(batches)


@dataclass(frozen=True)
class Job:
    guard_id: int
    ticket_id: int
    metric: str
    text: str  # the guard's query, filled in for the ticket's current stage
    stage_index: int


def guards_to_poll() -> list[Job]:
    """A Job for every Prometheus guard of every ramping ticket, from two queries of plain rows
    (a tick reads thousands of guards: no model instances, no query per ticket)."""
    ramping = {"ticket__state": State.RAMPING, "ticket__ramp__current_index__gte": 0}
    stages = {
        ticket_id: (index, percent)
        for ticket_id, index, percent in RampStage.objects.filter(
            index=F("ticket__ramp__current_index"), **ramping
        ).values_list("ticket_id", "index", "percent")
    }
    rows = (
        Guard.objects.filter(source=SampleSource.PROMETHEUS, **ramping)
        .order_by("ticket_id", "metric")
        .values_list(
            "pk",
            "ticket_id",
            "metric",
            "query",
            "ticket__change_id",
            "ticket__feature__slug",
            "ticket__candidate_model",
            "ticket__prompt_version",
        )
    )
    jobs = []
    for pk, ticket_id, metric, template, change_id, slug, model, prompt in rows:
        if ticket_id not in stages:
            continue
        index, percent = stages[ticket_id]
        values = promql.values_of(change_id, slug, model or prompt or "", index, percent)
        jobs.append(Job(pk, ticket_id, metric, promql.render(template, values), index))
    return jobs


def poll(now: datetime) -> dict:
    """Query every Prometheus guard once and store the answers. Returns the counts for the tick's
    log and `halting`: tickets whose guard has now failed PROMETHEUS_FAILURES_TO_HALT in a row.

    Without PROMETHEUS_URL nothing is asked (and the tick costs no query): guards made while it
    was set get no samples, so their ramps hold as inconclusive at the end of the bake."""
    if not settings.PROMETHEUS_URL:
        return {"queries": 0, "requests": 0, "failed": 0, "halting": set()}
    jobs = guards_to_poll()
    if not jobs:
        return {"queries": 0, "requests": 0, "failed": 0, "halting": set()}
    answers, requests = ask_all([job.text for job in jobs])
    received = clock.now()
    samples, answered, failed = [], [], []
    for job, answer in zip(jobs, answers, strict=True):
        if answer.error:
            failed.append((job.guard_id, answer.error))
            continue
        answered.append(job.guard_id)
        samples.append(
            HealthSample(
                ticket_id=job.ticket_id,
                stage_index=job.stage_index,
                metric=job.metric,
                value=answer.value,
                observed_at=now,
                received_at=received,
                source=SampleSource.PROMETHEUS,
                query=job.text,
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
                guard_id__in=[pk for pk, _ in failed],
                guard__observe_only=False,
                consecutive_failures__gte=settings.PROMETHEUS_FAILURES_TO_HALT,
            ).values_list("guard__ticket_id", flat=True)
        )
    return {"queries": len(jobs), "requests": requests, "failed": len(failed), "halting": halting}


def _record_probes(answered: list[int], failed: list[tuple[int, str]], now: datetime):
    """Reset the answered guards' failure runs and extend the failed ones': a few statements a
    tick (one per distinct error), however many guards."""
    asked = answered + [pk for pk, _ in failed]
    have = set(GuardProbe.objects.filter(guard_id__in=asked).values_list("guard_id", flat=True))
    GuardProbe.objects.bulk_create(
        [GuardProbe(guard_id=pk) for pk in asked if pk not in have], ignore_conflicts=True
    )
    # GuardProbe keeps no history (operational counters), so update() is the right tool here.
    GuardProbe.objects.filter(guard_id__in=answered).update(
        consecutive_failures=0, last_error="", last_query_at=now
    )
    by_error = {}
    for pk, error in failed:
        by_error.setdefault(error[:1000], []).append(pk)
    for error, pks in by_error.items():
        GuardProbe.objects.filter(guard_id__in=pks).update(
            consecutive_failures=F("consecutive_failures") + 1,
            last_error=error,
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
