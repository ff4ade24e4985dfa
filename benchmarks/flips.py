"""g. Kill-switch flips while other use cases write (issue 12 item 2).

The deployment the README recommends (Scaling out, contrib/nginx/changemgmt.conf): the kill
switches and the gateway policy served by a pool of their own, the rest by the web pool, one
database. Three phases, all over HTTP from separate processes; flips go to the switch pool, the
load to the web pool:
- idle: one flip at a time (`platform_team` token), nothing else running;
- under load: the same flips while `--loaders` processes each file a ticket with the API's cap of
  eval rows (MAX_EVAL_ROWS), submit it and have the four CAB seats vote on it, in a loop;
  idle and loaded flips are taken in ROUNDS alternating rounds (the loaders paused and resumed),
  so that the machine's drift over the minute between them falls on both alike;
- 20 writers: 20 processes flipping (each its own switch, engaged/released in turn) for a few
  seconds; audited writes/s is the growth of the audit chain's head over that time.

Workers are spawned processes that import this module with the standard library only.
"""

import copy
import http.client
import json
import multiprocessing
import time
from pathlib import Path

from . import env
from .loadgen import percentile

FLIP = "/api/v1/kill-switches/{path}/flip/"
SEATS = ("cab_platform", "cab_feature", "cab_risk", "cab_customer")
CHECKLIST = {
    "ticket_complete": True,
    "rollback_plan_real": True,
    "kill_switch_current": True,
    "window_appropriate": True,
    "blast_radius_sized": True,
}
TICKET = {
    "summary": "Prompt update for the support assistant (bench)",
    "feature": "support-assistant",
    "classification": "prompt",
    "risk_tier": "medium",
    "release_manager": "release_manager",
    "rollback_plan": "1. Flip feature:support-assistant to the human-agent queue. "
    "2. Re-pin prompt support-assistant@41 in the registry.",
    "kill_switch": "feature:support-assistant",
    "blast_radius": {"users_affected": 4000000, "regions": ["AU", "CA", "EU", "US"],
                     "max_traffic_percent": 50},
    "artifacts": {"pr_url": "https://git.example.com/ai/support/pull/812",
                  "prompt_version": "support-assistant@42", "risk_review_ticket": "AIRR-2291"},
    "release_window": {"planned_start": "2027-02-10T10:00:00-05:00",
                       "bridge_url": "https://meet.example.com/rel", "bridge": ["release_manager"],
                       "paging_list": ["ai-oncall@example.com"]},
}  # fmt: skip
P99_TARGET_MS = 200
WRITES_TARGET = 100


def _post(conn, path, token, body):
    conn.request(
        "POST",
        path,
        body=json.dumps(body),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    return response.status, response.read()


class _Client:
    """One keep-alive connection that reconnects when the server closed it while idle (gunicorn
    closes a keep-alive connection after 2 s: a paused loader's)."""

    def __init__(self, port):
        self.port, self.conn = port, None

    def post(self, path, token, body):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(env.HOST, self.port, timeout=120)
            try:
                return _post(self.conn, path, token, body)
            except (ConnectionError, http.client.RemoteDisconnected):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _count(statuses, key, body=b""):
    statuses[key] = statuses.get(key, 0) + 1
    if body and statuses[key] == 1 and not key.split()[-1].startswith("2"):
        statuses[f"{key} first answer"] = body[:300].decode(errors="replace")


def _go_on(running, stop) -> bool:
    """Wait while the loaders are paused (an idle round); False once they are to stop."""
    while not running.wait(0.05):
        if stop.is_set():
            return False
    return not stop.is_set()


def _loader(job):
    """File a large ticket, submit it, four votes; again, until `stop` is set. Each request
    waits while `running` is cleared: a pause takes effect within one request."""
    port, tokens, eval_rows, stop, running, n = job
    client = _Client(port)
    statuses, filed, votes, i = {}, 0, 0, 0
    while _go_on(running, stop):
        i += 1
        body = copy.deepcopy(TICKET) | {
            "title": f"Bench load {n}-{i}",
            "eval_deltas": [
                {"metric": f"metric_{k}", "baseline": 0.8, "candidate": 0.81}
                for k in range(eval_rows)
            ],
        }
        status, data = client.post("/api/v1/changes/", tokens["author"], body)
        _count(statuses, f"file {status}", data)
        if status != 201:
            continue
        filed += 1
        change_id = json.loads(data)["change_id"]
        if not _go_on(running, stop):
            break
        status, data = client.post(
            f"/api/v1/changes/{change_id}/submit/", tokens["author"], {"reason": "bench"}
        )
        _count(statuses, f"submit {status}", data)
        for seat in SEATS:
            if not _go_on(running, stop):
                break
            status, data = client.post(
                f"/api/v1/changes/{change_id}/votes/",
                tokens[seat],
                {"decision": "approve", "checklist": CHECKLIST},
            )
            _count(statuses, f"vote {status}", data)
            votes += status == 201
    client.close()
    return {"filed": filed, "votes": votes, "statuses": statuses}


def _writer(job):
    """Flip one switch engaged/released in turn for `seconds`."""
    port, token, path, seconds = job
    conn = http.client.HTTPConnection(env.HOST, port, timeout=120)
    statuses, latencies, engaged = {}, [], True
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        status, _ = _post(
            conn, FLIP.format(path=path), token, {"engaged": engaged, "reason": "bench writers"}
        )
        latencies.append(time.perf_counter() - t0)
        _count(statuses, str(status))
        engaged = not engaged
    conn.close()
    return {"latencies": latencies, "statuses": statuses}


def _flips(port, token, count, gap_s) -> dict:
    """`count` flips of the bench feature one after another (released and engaged in turn: an
    even count leaves it as found): latency of each response."""
    return _summary(*_timed_flips(port, token, count, gap_s))


def _timed_flips(port, token, count, gap_s) -> tuple[list, dict]:
    conn = http.client.HTTPConnection(env.HOST, port, timeout=120)
    latencies, statuses, engaged = [], {}, True
    for _ in range(count):
        t0 = time.perf_counter()
        status, _ = _post(
            conn,
            FLIP.format(path="feature/policy-search-v1"),
            token,
            {"engaged": engaged, "reason": "bench flip latency"},
        )
        latencies.append(time.perf_counter() - t0)
        _count(statuses, str(status))
        engaged = not engaged
        time.sleep(gap_s)
    conn.close()
    return latencies, statuses


WARM_UP_CONNECTIONS = 8


def _warm_up(port, token) -> None:
    """Not counted: each gunicorn worker's first flip (its database connection, the first
    document render, the signing key loaded: ~180 ms of CPU here). Two flips (engaged,
    released) on each of WARM_UP_CONNECTIONS new connections, one after another: a connection
    is served by whichever worker accepts it, so every worker of the pool serves some but with
    odds of 1 in 2^7. Before, 4 flips on one connection warmed one worker, and the other's first
    flip fell into whichever round first reached it."""
    for _ in range(WARM_UP_CONNECTIONS):
        _flips(port, token, 2, gap_s=0)


def _summary(latencies, statuses) -> dict:
    return {
        "flips": len(latencies),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "statuses": statuses,
    }


def _tokens():
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    User = get_user_model()
    return {
        name: Token.objects.get_or_create(user=User.objects.get(username=name))[0].key
        for name in ("author", "platform_team", *SEATS)
    }


def _writer_switches(count: int) -> list[str]:
    """One feature switch per writer (`bench-writer-N`; the platform team may flip any feature
    switch), created if missing: URL paths."""
    from changemgmt.catalog.models import AIFeature
    from changemgmt.killswitches.models import FeatureSwitch

    team = AIFeature.objects.get(slug="policy-search-v1").owner_team
    paths = []
    for n in range(count):
        feature, _ = AIFeature.objects.get_or_create(
            slug=f"bench-writer-{n}",
            defaults={"name": f"Bench writer {n}", "owner_team": team, "fallback": "none"},
        )
        FeatureSwitch.objects.get_or_create(feature=feature, defaults={"fallback": "none"})
        paths.append(f"feature/{feature.slug}")
    return paths


def _head_seq() -> int:
    from changemgmt.audit.models import AuditHead

    return AuditHead.objects.get(pk=1).seq


ROUNDS = 5  # idle and loaded rounds, alternating; each round's flip count is even
PAUSE_S, RESUME_S = 1.0, 2.0  # after pausing the loaders (a request in flight ends); resuming


def interleaved(ctx, switch_port, pool, tokens, loaders, eval_rows, flips):
    """`flips` idle and `flips` loaded flips in ROUNDS alternating rounds: (idle, loaded, the
    p50 of each round in order, the loaders' parts)."""
    per_round = flips // ROUNDS // 2 * 2
    manager = multiprocessing.get_context("spawn").Manager()
    stop, running = manager.Event(), manager.Event()
    jobs = [(ctx.port, tokens, eval_rows, stop, running, n) for n in range(loaders)]
    pending = pool.map_async(_loader, jobs)
    token, rounds = tokens["platform_team"], []
    idle, loaded = ([], {}), ([], {})
    try:
        for n in range(ROUNDS):
            running.clear()
            time.sleep(PAUSE_S)
            for phase, into in (("idle", idle), ("loaded", loaded)):
                if phase == "loaded":
                    running.set()
                    time.sleep(RESUME_S)  # the loaders are filing and voting again
                latencies, statuses = _timed_flips(switch_port, token, per_round, gap_s=0.1)
                into[0].extend(latencies)
                for status, count in statuses.items():
                    into[1][status] = into[1].get(status, 0) + count
                rounds.append((phase, round(percentile(latencies, 50) * 1000, 1)))
            ctx.log(
                f"    round {n + 1}/{ROUNDS}: p50 idle {rounds[-2][1]}, loaded {rounds[-1][1]} ms"
            )
    finally:
        stop.set()
        running.set()
    return _summary(*idle), _summary(*loaded), rounds, pending.get(timeout=300)


def writers(switch_port, tokens, count, seconds) -> dict:
    paths = _writer_switches(count)
    jobs = [(switch_port, tokens["platform_team"], paths[n], seconds) for n in range(count)]
    before, started = _head_seq(), time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(count) as pool:
        parts = pool.map(_writer, jobs)
    wall = time.perf_counter() - started
    records = _head_seq() - before
    statuses = {}
    for part in parts:
        for status, n in part["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    latencies = [lat for part in parts for lat in part["latencies"]]
    return {
        "writers": count,
        "switches": len(set(paths)),
        "seconds": round(wall, 1),
        "flips": len(latencies),
        "flips_per_s": round(len(latencies) / wall, 1),
        "records": records,
        "records_per_s": round(records / wall, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
        "statuses": statuses,
    }


SWITCH_POOL = (2, 4)  # gunicorn workers, threads: the switch pool, beside the web pool


def flips_bench(ctx, **kwargs) -> dict:
    workers, threads = SWITCH_POOL
    switches = env.Gunicorn({}, workers, threads, Path(ctx.gunicorn.log.name).with_name("sw.log"))
    try:
        switches.wait_healthy()
        ctx.log(f"  switch pool: {' '.join(switches.cmd[1:])}")
        return _flips_bench(ctx, switches, **kwargs) | {"switch_pool": " ".join(switches.cmd[1:])}
    finally:
        switches.stop()


def _flips_bench(ctx, switches, *, loaders=4, flips=40, writer_count=20, writer_seconds=10):
    from changemgmt.tickets.models import MAX_EVAL_ROWS

    tokens = _tokens()
    _warm_up(switches.port, tokens["platform_team"])
    ctx.log(
        f"  {flips} flips idle and {flips} under load ({loaders} processes filing "
        f"{MAX_EVAL_ROWS}-eval-row tickets, voting) in {ROUNDS} alternating rounds …"
    )
    with multiprocessing.get_context("spawn").Pool(loaders) as pool:
        idle, loaded, rounds, load_parts = interleaved(
            ctx, switches.port, pool, tokens, loaders, MAX_EVAL_ROWS, flips
        )
    ctx.log(f"    idle p50 {idle['p50_ms']} ms, p99 {idle['p99_ms']} ms {idle['statuses']}")
    load = {"filed": 0, "votes": 0, "statuses": {}}
    for part in load_parts:
        load["filed"] += part["filed"]
        load["votes"] += part["votes"]
        for status, n in part["statuses"].items():
            if isinstance(n, str):  # the first refusal's answer, kept to read
                load["statuses"].setdefault(status, n)
            else:
                load["statuses"][status] = load["statuses"].get(status, 0) + n
    ctx.log(f"    loaded p50 {loaded['p50_ms']} ms, p99 {loaded['p99_ms']} ms; load {load}")
    ctx.log(f"  {writer_count} writers flipping for {writer_seconds} s …")
    written = writers(switches.port, tokens, writer_count, writer_seconds)
    ctx.log(f"    {written['records_per_s']} records/s, {written['flips_per_s']} flips/s")
    bound = min(P99_TARGET_MS, 2 * idle["p99_ms"])
    result = {
        "available": True,
        "idle": idle,
        "loaded": loaded,
        "load": load | {"processes": loaders, "eval_rows_per_ticket": MAX_EVAL_ROWS},
        "rounds": [{"phase": phase, "p50_ms": p50} for phase, p50 in rounds],
        "writers": written,
        "flip_target": f"p99 under load <= {P99_TARGET_MS} ms and <= 2 x idle p99",
        "writes_target": f">= {WRITES_TARGET} audit records/s",
        "flip_pass": bool(loaded["p99_ms"] <= bound and set(loaded["statuses"]) == {"200"}),
        "writes_pass": bool(written["records_per_s"] >= WRITES_TARGET),
        "load_average": [round(x, 2) for x in __import__("os").getloadavg()],
    }
    result["pass"] = result["flip_pass"] and result["writes_pass"]
    return result


def report_rows(suite) -> list:
    if not suite:
        return []
    if suite.get("available") is False or "error" in suite:
        return [("flips", "", suite.get("why") or suite.get("error"), "", "MISS")]
    idle, loaded, load, w = suite["idle"], suite["loaded"], suite["load"], suite["writers"]
    return [
        (
            "flip latency idle/loaded",
            f"{load['processes']} loaders, {load['eval_rows_per_ticket']} eval rows, "
            f"{len(suite.get('rounds', [])) // 2} rounds each",
            f"idle p50 {idle['p50_ms']} ms p99 {idle['p99_ms']} ms; loaded p50 "
            f"{loaded['p50_ms']} ms p99 {loaded['p99_ms']} ms {loaded['statuses']}; load filed "
            f"{load['filed']} tickets, {load['votes']} votes; load avg {suite['load_average']}",
            suite["flip_target"],
            "PASS" if suite["flip_pass"] else "MISS",
        ),
        (
            "audited writes, 20 writers",
            f"{w['writers']} writers on {w['switches']} switches",
            f"{w['records_per_s']} records/s ({w['records']} in {w['seconds']} s), "
            f"{w['flips_per_s']} flips/s, p99 {w['p99_ms']} ms {w['statuses']}",
            suite["writes_target"],
            "PASS" if suite["writes_pass"] else "MISS",
        ),
    ]
