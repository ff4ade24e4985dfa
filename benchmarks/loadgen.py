"""Load from a second process: keep-alive http.client connections, bounded by count and time.

Stdlib only, and nothing Django: the workers are spawned processes that import this module alone,
so they cost the server's CPUs nothing but the requests themselves.
"""

import http.client
import math
import multiprocessing
import statistics
import time


def _one_worker(job):
    host, port, method, path, headers, body, duration_s, max_requests = job
    conn = http.client.HTTPConnection(host, port, timeout=30)
    latencies, statuses, errors = [], {}, 0
    started = time.perf_counter()
    deadline = started + duration_s
    while len(latencies) + errors < max_requests and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            # The server closed an idle keep-alive connection: reconnect and go on.
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
            continue
        latencies.append(time.perf_counter() - t0)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    finished = time.perf_counter()
    conn.close()
    return {
        "latencies": latencies,
        "statuses": statuses,
        "errors": errors,
        "started": started,
        "finished": finished,
    }


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list: the ceil(q% × n)-th smallest.
    (round(x + 0.5) rounded 99.5 up to 100 for n = 100: p99 was the maximum.)"""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


class LoadGenerator:
    """A pool of `concurrency` spawned processes that hammer one target at a time."""

    def __init__(self, host, port, concurrency):
        self.host, self.port, self.concurrency = host, port, concurrency
        self.pool = multiprocessing.get_context("spawn").Pool(concurrency)

    def close(self):
        self.pool.terminate()
        self.pool.join()

    def run(
        self,
        path,
        *,
        headers=None,
        method="GET",
        body=None,
        duration_s=2.0,
        max_requests=2000,
        concurrency=None,
    ):
        """Run one burst; returns requests/s, p50/p95/p99 in ms and the status counts."""
        concurrency = concurrency or self.concurrency
        per_worker = max(1, max_requests // concurrency)
        job = (
            self.host,
            self.port,
            method,
            path,
            dict(headers or {}),
            body,
            duration_s,
            per_worker,
        )
        parts = self.pool.map(_one_worker, [job] * concurrency)
        latencies = [lat for part in parts for lat in part["latencies"]]
        statuses = {}
        for part in parts:
            for status, count in part["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
        wall = max(p["finished"] for p in parts) - min(p["started"] for p in parts)
        if not latencies:
            return {
                "requests": 0,
                "rps": 0.0,
                "p50_ms": None,
                "p95_ms": None,
                "p99_ms": None,
                "statuses": statuses,
                "errors": sum(p["errors"] for p in parts),
            }
        return {
            "requests": len(latencies),
            "rps": len(latencies) / wall if wall > 0 else 0.0,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p95_ms": percentile(latencies, 95) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "mean_ms": statistics.fmean(latencies) * 1000,
            "statuses": statuses,
            "errors": sum(p["errors"] for p in parts),
        }
