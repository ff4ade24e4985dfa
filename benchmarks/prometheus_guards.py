"""A sweeper tick with 1,000 ramping tickets whose four guards all read a real Prometheus.

Starts Debian's `prometheus` on a free port (TSDB in a temporary folder) scraping an exporter in
this process that serves one series per ticket and metric, waits for the first scrape, then times
`advance_all` (every guard's query asked once, PROMETHEUS_BATCH_SIZE of them per HTTP request
through the thread pool, answers stored as samples, the due ramps advanced) and counts guard
queries, HTTP requests and SQL statements per ticket. Target: a tick under 30 s on this machine.

    DATABASE_URL=postgres://…/cm_x .venv/bin/python -m benchmarks.prometheus_guards [count]
"""

import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

TEMPLATE = 'max(canary_health{{feature="{{feature}}",change_id="{{change_id}}",metric="{metric}"}})'


def prometheus_tick_bench(count=1000, log=print) -> dict:
    import threading

    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from benchmarks import rollouts as r
    from changemgmt import clock
    from changemgmt.rollouts import prometheus, sweeper
    from changemgmt.rollouts.models import Guard, HealthSample

    if not shutil.which("prometheus"):
        return {
            "available": False,
            "why": "prometheus is not installed (apt-get install prometheus)",
        }
    from tests.prometheus_server import Exporter, PrometheusServer

    at = r._instant_in_window()
    made, _ = r.make_ramps(count, at, log)
    ids = [t.pk for t in made]
    tickets = [(t.pk, t.change_id, t.feature.slug) for t in made]
    for metric in ("eval_score_drift", "negative_feedback_rate", "error_rate", "latency_p95_ms"):
        # Bench data: guards switched to Prometheus in bulk (no history needed for a benchmark).
        Guard.objects.filter(ticket_id__in=ids, metric=metric).update(
            source="prometheus", query=TEMPLATE.format(metric=metric)
        )
    exporter = Exporter()
    threading.Thread(target=exporter.serve_forever, daemon=True).start()
    for _, change_id, slug in tickets:
        for metric, value in r.HEALTHY.items():
            exporter.set(
                "canary_health", {"feature": slug, "change_id": change_id, "metric": metric}, value
            )
    server = PrometheusServer(
        Path(tempfile.mkdtemp(prefix="bench-prom-")), exporter.port, scrape_seconds=5
    )
    try:
        _, change_id, slug = tickets[-1]
        server.wait_for(
            f'canary_health{{change_id="{change_id}",metric="latency_p95_ms"}}',
            r.HEALTHY["latency_p95_ms"],
            timeout=120,
        )
        settings.PROMETHEUS_URL = server.url
        sent = []
        original = prometheus._post

        def counted(text):
            sent.append(text)
            return original(text)

        prometheus._post = counted
        polls = []
        original_poll = prometheus.poll

        def timed_poll(now):
            started = time.perf_counter()
            try:
                return original_poll(now)
            finally:
                polls.append(time.perf_counter() - started)

        prometheus.poll = timed_poll
        ticks = []
        for n in range(3):
            sent.clear()
            before = HealthSample.objects.filter(source="prometheus").count()
            now = at + timedelta(minutes=n)  # one beat apart, as beat sends them
            started = time.perf_counter()
            with clock.frozen_at(now), CaptureQueriesContext(connection) as sql:
                done = sweeper.advance_all(now)
            seconds = time.perf_counter() - started
            stored = HealthSample.objects.filter(source="prometheus").count() - before
            ticks.append(
                {
                    "seconds": round(seconds, 2),
                    "guard_queries_per_ticket": round(stored / len(tickets), 2),
                    "requests": len(sent),
                    "requests_per_ticket": round(len(sent) / len(tickets), 3),
                    "sql_per_ticket": round(len(sql) / len(tickets), 3),
                    "samples_stored": stored,
                    "poll_seconds": round(polls[-1], 2),
                    "acted": len(done),
                }
            )
            log(f"    tick {n + 1}: {ticks[-1]}")
        prometheus._post, prometheus.poll = original, original_poll
        worst = max(t["seconds"] for t in ticks)
        return {
            "available": True,
            "tickets": len(tickets),
            "database": connection.vendor,
            "concurrency": settings.PROMETHEUS_CONCURRENCY,
            "batch_size": settings.PROMETHEUS_BATCH_SIZE,
            "ticks": ticks,
            "worst_tick_seconds": worst,
            "target_seconds": 30,
            # Every guard answered and stored, each tick.
            "pass": worst < 30 and all(t["samples_stored"] == 4 * len(tickets) for t in ticks),
        }
    finally:
        server.stop()
        exporter.shutdown()


if __name__ == "__main__":
    import json
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changemgmt.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", password="bench-password-0", stdout=open(os.devnull, "w"))  # noqa: SIM115
    result = prometheus_tick_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
    print(json.dumps(result, indent=2))
