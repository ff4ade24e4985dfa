"""The measurements. Each returns a dict; {"available": False, "why": ...} when what it measures
has not been built yet, so the harness runs against whatever the tree holds today."""

import http.client
import json
import statistics
import time
from dataclasses import dataclass, field

from . import env

JSON_POLICY = "/api/v1/gateway-policy"
YAML_POLICY = "/gateway-policies/kill-switches.yaml"
TRIVIAL = "/bench/trivial"
FLIP = "/api/v1/kill-switches/feature/policy-search-v1/flip/"
FLIP_FEATURE = "policy-search-v1"


@dataclass
class Context:
    port: int
    load: object  # loadgen.LoadGenerator
    gunicorn: object
    log: object
    rounds: int
    burst_s: float
    page_requests: int
    flips: int
    tokens: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)


def not_available(why):
    return {"available": False, "why": why}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _round(value, digits=2):
    return None if value is None else round(value, digits)


# ----- a. gateway policy vs the trivial view -----


def gateway_policy(ctx: Context) -> dict:
    auth = {"Authorization": f"Token {ctx.tokens['gateway']}"}
    targets = {"trivial": (TRIVIAL, {})}
    missing = []
    for name, path in (("json", JSON_POLICY), ("yaml", YAML_POLICY)):
        status, headers, _ = env.request("GET", ctx.port, path, headers=auth)
        if status != 200:
            missing.append(f"{path} answered {status}")
            continue
        targets[f"{name}_200"] = (path, auth)
        etag = headers.get("etag")
        if etag:
            targets[f"{name}_304"] = (path, {**auth, "If-None-Match": etag})
        else:
            missing.append(f"{path} sends no ETag")
    if len(targets) == 1:
        return not_available("; ".join(missing))

    compared = [name for name in targets if name != "trivial"]
    runs = {name: [] for name in targets}
    ratios = {name: [] for name in compared}
    for round_no in range(ctx.rounds):
        # trivial, A, trivial, B, trivial, …: each target is compared with the trivial bursts
        # right before and after it, so the machine's drift hits both sides of every ratio.
        # The order of the targets rotates each round.
        shift = round_no % len(compared)
        order = compared[shift:] + compared[:shift]
        before = _burst(ctx, targets["trivial"])
        runs["trivial"].append(before)
        for name in order:
            run = _burst(ctx, targets[name])
            after = _burst(ctx, targets["trivial"])
            runs[name].append(run)
            runs["trivial"].append(after)
            base = (before["rps"] + after["rps"]) / 2
            if base:
                ratios[name].append(run["rps"] / base)
            before = after
        ctx.log(
            f"    round {round_no + 1}/{ctx.rounds}: trivial {before['rps']:.0f}/s; "
            + ", ".join(f"{n} x{ratios[n][-1]:.2f}" for n in compared if ratios[n])
        )

    queries = gateway_queries(targets)
    results = {"available": True, "missing": missing, "targets": {}}
    for name, path_headers in targets.items():
        statuses = {}
        for run in runs[name]:
            for status, count in run["statuses"].items():
                statuses[str(status)] = statuses.get(str(status), 0) + count
        entry = {
            "path": path_headers[0],
            "rps": _round(median(r["rps"] for r in runs[name]), 1),
            "p50_ms": _round(median(r["p50_ms"] for r in runs[name])),
            "p99_ms": _round(median(r["p99_ms"] for r in runs[name])),
            "queries_per_request": queries.get(name),
            "statuses": statuses,
        }
        if name != "trivial":
            expected = "304" if name.endswith("_304") else "200"
            target = 0.9 if expected == "304" else 0.8
            entry["ratio_to_trivial"] = _round(median(ratios[name]), 3)
            entry["ratio_per_round"] = [_round(r, 3) for r in ratios[name]]
            entry["target"] = f"requests/s >= {target} x trivial"
            entry["all_status_" + expected] = set(statuses) == {expected}
            entry["pass"] = bool(
                entry["ratio_to_trivial"] is not None
                and entry["ratio_to_trivial"] >= target
                and entry["all_status_" + expected]
            )
        else:
            entry["ratio_to_trivial"] = 1.0
        results["targets"][name] = entry
    return results


def _burst(ctx, path_headers):
    path, headers = path_headers
    return ctx.load.run(path, headers=headers, duration_s=ctx.burst_s, max_requests=1_000_000)


def gateway_queries(targets) -> dict:
    """SQL queries per request of each target, counted in-process (a warm second request)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name, (path, headers) in targets.items():
        meta = {"HTTP_" + key.upper().replace("-", "_"): value for key, value in headers.items()}
        client = Client()
        client.get(path, **meta)
        with CaptureQueriesContext(connection) as captured:
            client.get(path, **meta)
        counts[name] = len(captured.captured_queries)
    return counts


# ----- b. kill-switch propagation -----


def find_feature_enabled(document, slug=FLIP_FEATURE):
    """The `enabled` value of feature `slug`, wherever the document keeps it (None: not found)."""
    if isinstance(document, dict):
        for key in ("feature_kill_switches", "features"):
            section = document.get(key)
            if isinstance(section, dict) and isinstance(section.get(slug), dict):
                if "enabled" in section[slug]:
                    return section[slug]["enabled"]
        for key, value in document.items():
            if key == slug and isinstance(value, dict) and "enabled" in value:
                return value["enabled"]
            found = find_feature_enabled(value, slug)
            if found is not None:
                return found
    elif isinstance(document, list):
        for item in document:
            if (
                isinstance(item, dict)
                and slug in (item.get("feature"), item.get("slug"), item.get("key"))
                and "enabled" in item
            ):
                return item["enabled"]
            found = find_feature_enabled(item, slug)
            if found is not None:
                return found
    return None


def propagation(ctx: Context) -> dict:
    reader = {"Authorization": f"Token {ctx.tokens['gateway']}"}
    flipper = {"Authorization": f"Token {ctx.tokens['platform_team']}"}
    status, headers, body = env.request("GET", ctx.port, JSON_POLICY, headers=reader)
    if status != 200:
        return not_available(f"{JSON_POLICY} answered {status}")
    enabled = find_feature_enabled(json.loads(body))
    if enabled is None:
        return not_available(f"{FLIP_FEATURE} not found in the JSON policy")
    etag = headers.get("etag", "")
    flip_conn = http.client.HTTPConnection(env.HOST, ctx.port, timeout=30)
    poll_conn = http.client.HTTPConnection(env.HOST, ctx.port, timeout=30)
    times_ms, polls, failures = [], [], []
    for i in range(ctx.flips):
        engaged = bool(enabled)  # engaged = the AI is off: flip to the other state each time
        status, _, body = env.request(
            "POST",
            ctx.port,
            FLIP,
            headers=flipper,
            body={"engaged": engaged, "reason": "bench"},
            conn=flip_conn,
        )
        flipped_at = time.perf_counter()
        if status == 404 and i == 0:
            return not_available(f"{FLIP} answered 404")
        if status >= 300:
            failures.append(f"flip {i + 1}: {status} {body[:200]!r}")
            continue
        n = 0
        while True:
            n += 1
            status, headers, body = env.request(
                "GET",
                ctx.port,
                JSON_POLICY,
                conn=poll_conn,
                headers={**reader, "If-None-Match": etag},
            )
            if status == 200:
                etag = headers.get("etag", "")
                if find_feature_enabled(json.loads(body)) == (not engaged):
                    times_ms.append((time.perf_counter() - flipped_at) * 1000)
                    polls.append(n)
                    enabled = not engaged
                    break
            if time.perf_counter() - flipped_at > 10:
                failures.append(f"flip {i + 1}: not visible after 10 s")
                enabled = not engaged
                break
    flip_conn.close()
    poll_conn.close()
    result = {
        "available": True,
        "flips": ctx.flips,
        "seen": len(times_ms),
        "median_ms": _round(median(times_ms)),
        "p95_ms": _round(
            sorted(times_ms)[max(0, int(len(times_ms) * 0.95) - 1)] if times_ms else None
        ),
        "max_ms": _round(max(times_ms) if times_ms else None),
        "polls_median": median(polls),
        # 1: every flip showed in the first poll after the flip's response, in whichever worker
        "polls_max": max(polls) if polls else None,
        "failures": failures,
        "target": "every flip visible <= 100 ms after the flip response",
    }
    result["pass"] = bool(times_ms and not failures and max(times_ms) <= 100)
    return result


# ----- c. pages at two data sizes -----

PAGES = {
    "dashboard": ("/", "release_manager"),
    "ticket_list": ("/tickets/", "release_manager"),
    "audit_log": ("/audit/", "auditor"),
}


def page_queries(log) -> dict:
    """SQL queries per page, counted in-process through the test client (second, warm request)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name, (path, username) in PAGES.items():
        # A page that raises is a 500 to measure, not a crash of the harness.
        client = Client(raise_request_exception=False)
        client.force_login(get_user_model().objects.get(username=username))
        first = client.get(path)
        if first.status_code == 404:
            counts[name] = {"available": False, "why": f"{path} answered 404"}
            continue
        if first.status_code != 200:
            counts[name] = {"available": True, "error": f"{path} answered {first.status_code}"}
            continue
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        queries = captured.captured_queries
        slowest = sorted(queries, key=lambda q: float(q["time"]), reverse=True)[:3]
        counts[name] = {
            "available": True,
            "status": response.status_code,
            "statements": [_shape(q["sql"]) for q in queries],
            "queries": len(queries),
            "sql_ms": round(sum(float(q["time"]) for q in queries) * 1000, 1),
            "slowest": [
                {"ms": round(float(q["time"]) * 1000, 1), "sql": q["sql"][:300]} for q in slowest
            ],
        }
    return counts


def page_latency(ctx: Context, available: list[str]) -> dict:
    """p95 over HTTP through gunicorn, one request at a time, interleaved with the trivial view."""
    targets = {"trivial": (TRIVIAL, {})}
    for name in available:
        path, username = PAGES[name]
        if username not in ctx.sessions:
            ctx.sessions[username] = env.login_session(ctx.port, username)
        targets[name] = (path, {"Cookie": ctx.sessions[username]})
    per_round = {name: [] for name in targets}
    names = list(targets)
    for round_no in range(ctx.rounds):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in order:
            path, headers = targets[name]
            per_round[name].append(
                ctx.load.run(
                    path,
                    headers=headers,
                    duration_s=60,
                    max_requests=ctx.page_requests,
                    concurrency=1,
                )
            )
        ctx.log(
            f"    round {round_no + 1}/{ctx.rounds}: "
            + ", ".join(f"{n} p95 {per_round[n][-1]['p95_ms'] or 0:.1f} ms" for n in names)
        )
    out = {}
    for name, runs in per_round.items():
        statuses = {}
        for run in runs:
            for status, count in run["statuses"].items():
                statuses[str(status)] = statuses.get(str(status), 0) + count
        out[name] = {
            "p50_ms": _round(median(r["p50_ms"] for r in runs)),
            "p95_ms": _round(median(r["p95_ms"] for r in runs)),
            "requests": sum(r["requests"] for r in runs),
            "statuses": statuses,
        }
    return out


def pages_at_size(ctx: Context, label: str) -> dict:
    from . import datagen

    ctx.log(f"  queries per page ({label}) …")
    queries = page_queries(ctx.log)
    available = [name for name, q in queries.items() if "queries" in q]
    latency = page_latency(ctx, available) if available else {}
    return {
        "tickets": datagen.ticket_count(),
        "ticket_history_rows": datagen.history_count(),
        "audit_records": datagen.audit_model().objects.count() if datagen.audit_model() else None,
        "queries": queries,
        "latency": latency,
    }


def compare_sizes(small: dict, large: dict) -> dict:
    out = {}
    for name in PAGES:
        q_small, q_large = small["queries"].get(name, {}), large["queries"].get(name, {})
        errors = [q["error"] for q in (q_small, q_large) if "error" in q]
        if errors:
            out[name] = {"available": True, "pass": False, "error": "; ".join(errors)}
            continue
        if not (q_small.get("available") and q_large.get("available")):
            out[name] = not_available(q_large.get("why") or q_small.get("why"))
            continue
        p_small = small["latency"][name]["p95_ms"]
        p_large = large["latency"][name]["p95_ms"]
        t_small = small["latency"]["trivial"]["p95_ms"]
        t_large = large["latency"]["trivial"]["p95_ms"]
        ratio = p_large / p_small if p_small else None
        ok_statuses = all(
            set(size["latency"][name]["statuses"]) == {"200"} for size in (small, large)
        )
        out[name] = {
            "available": True,
            "path": PAGES[name][0],
            "queries_small": q_small["queries"],
            "queries_large": q_large["queries"],
            "queries_constant": q_large["queries"] <= q_small["queries"],
            "p95_small_ms": p_small,
            "p95_large_ms": p_large,
            "p95_ratio": _round(ratio, 2),
            "trivial_p95_small_ms": t_small,
            "trivial_p95_large_ms": t_large,
            "all_status_200": ok_statuses,
            "slowest_queries_large": q_large["slowest"],
            "statements_added_at_large": _added(q_small["statements"], q_large["statements"]),
            "target": "queries constant; p95(large) <= 1.5 x p95(small)",
        }
        out[name]["pass"] = bool(
            out[name]["queries_constant"] and ratio is not None and ratio <= 1.5 and ok_statuses
        )
    return out


def _added(small: list[str], large: list[str]) -> dict[str, int]:
    """Statements the large page ran more often than the small one (what grows with the data)."""
    from collections import Counter

    grown = Counter(large)
    grown.subtract(Counter(small))
    return {sql: n for sql, n in grown.items() if n > 0}


def _shape(sql: str) -> str:
    """A statement without its values (literals, numbers, cursor names): what to compare."""
    import re

    sql = re.sub(r"'(?:[^']|'')*'", "'?'", " ".join(sql.split()))
    sql = re.sub(r"_django_curs_\d+_\w+?_\d+", "_django_curs_?", sql)
    return re.sub(r"\b\d+\b", "?", sql)[:160]
