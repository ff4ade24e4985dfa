#!/usr/bin/env python
"""`make bench-peers`: our gateway poll against Unleash (2 Node processes) and a bare WSGI "ok",
interleaved in one run with one load generator. See benchmarks/README.md, "Peers".

    .venv/bin/python benchmarks/peers.py [--rounds 9] [--burst 3.0] [--connections 16]

Installs unleash-server into var/peers/unleash when missing (npm), runs everything on the
machine's PostgreSQL (databases changemgmt_bench and unleash_bench, dropped at the end) and Redis
DB 15, and writes benchmarks/results/peers.json. Holds the bench lock (env.BenchLock).
"""

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import env, peers_load, unleash  # noqa: E402
from benchmarks.run import git_commit, log, machine_info, prepare_database, setup_django  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "peers.json"
TARGETS = {
    "poll_json_vs_bare": "ours JSON 200 and 304 >= 0.85 x bare WSGI ok in requests/s",
    "cpu_vs_bare": "ours JSON CPU/request <= 1.2 x bare WSGI ok",
    "vs_unleash": "ours JSON >= 1.5 x Unleash x2, 200 and 304",
    "flip": "flip -> first poll p95 <= 20 ms, every flip seen by the first poll",
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--burst", type=float, default=3.0, help="seconds per burst")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--flips", type=int, default=20)
    parser.add_argument("--output", default=str(RESULTS))
    return parser.parse_args()


def median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def _r(value, digits):
    return None if value is None else round(value, digits)


def interleave(targets: dict, args) -> dict:
    """Rounds of one burst per target, the order rotated each round; per-round figures kept."""
    names = list(targets)
    runs = {name: [] for name in names}
    for round_no in range(args.rounds):
        order = names[round_no % len(names) :] + names[: round_no % len(names)]
        for name in order:
            runs[name].append(peers_load.burst(targets[name], args.burst, args.connections))
        log(
            f"  round {round_no + 1}/{args.rounds}: "
            + ", ".join(f"{n} {runs[n][-1]['rps']:.0f}/s" for n in names)
        )
    return runs


def ratio(runs, a, b, key="rps"):
    """Median over rounds of a/b for `key` (same round: the machine's load is alike)."""
    values = [
        ra[key] / rb[key] for ra, rb in zip(runs[a], runs[b], strict=True) if ra[key] and rb[key]
    ]
    return round(median(values), 3) if values else None


def summarise(runs) -> dict:
    out = {}
    for name, bursts in runs.items():
        out[name] = {
            "rps": _r(median([b["rps"] for b in bursts]), 1),
            "p50_ms": _r(median([b["p50_ms"] for b in bursts]), 2),
            "p99_ms": _r(median([b["p99_ms"] for b in bursts]), 2),
            "cpu_ms_per_request": _r(median([b["cpu_ms_per_request"] for b in bursts]), 3),
            "statuses": bursts[-1]["statuses"],
            # Bursts run again because one gunicorn worker had every connection (peers_load.py).
            "bursts_rerun": sum(b.get("attempts", 1) - 1 for b in bursts),
            "still_one_worker": sum(
                1 for b in bursts if b.get("min_worker_share", 1.0) < peers_load.MIN_WORKER_SHARE
            ),
        }
    return out


def judge(runs, flips) -> dict:
    checks = {
        "json_200_vs_bare": ratio(runs, "ours_json_200", "bare_ok"),
        "json_304_vs_bare": ratio(runs, "ours_json_304", "bare_ok"),
        "json_200_cpu_vs_bare": ratio(runs, "ours_json_200", "bare_ok", "cpu_ms_per_request"),
        "json_304_cpu_vs_bare": ratio(runs, "ours_json_304", "bare_ok", "cpu_ms_per_request"),
        "json_200_vs_unleash": ratio(runs, "ours_json_200", "unleash_200"),
        "json_304_vs_unleash": ratio(runs, "ours_json_304", "unleash_304"),
        "yaml_200_vs_unleash": ratio(runs, "ours_yaml_200", "unleash_200"),
        "yaml_304_vs_unleash": ratio(runs, "ours_yaml_304", "unleash_304"),
    }
    ours = flips["ours"]
    passed = {
        "poll_json_vs_bare": all(
            (checks[k] or 0) >= 0.85 for k in ("json_200_vs_bare", "json_304_vs_bare")
        ),
        "cpu_vs_bare": all(
            checks[k] is not None and checks[k] <= 1.2
            for k in ("json_200_cpu_vs_bare", "json_304_cpu_vs_bare")
        ),
        "vs_unleash": all(
            (checks[k] or 0) >= 1.5 for k in ("json_200_vs_unleash", "json_304_vs_unleash")
        ),
        "flip": bool(
            ours.get("p95_ms") is not None
            and ours["p95_ms"] <= 20
            and ours.get("polls_max") == 1
            and ours.get("seen") == ours.get("flips")
        ),
    }
    return {"ratios": checks, "pass": passed, "targets": TARGETS}


def main():
    args = parse_args()
    var_dir = env.make_var_dir()
    environ = env.bench_environ(var_dir)
    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "load_generator": peers_load.name(),
        "connections": args.connections,
    }
    started = []
    try:
        unleash.ensure_installed(log)
        env.recreate_database()
        env.flush_redis_db15()
        setup_django(environ)
        tokens = prepare_database(args)
        results["machine"] = machine_info()
        ours = env.Gunicorn(environ, 2, 4, Path(var_dir) / "web.log")
        bare = env.Gunicorn(environ, 2, 4, Path(var_dir) / "bare.log", app="benchmarks.bare_wsgi")
        started += [ours, bare]
        ours.wait_healthy()
        bare.wait_healthy()
        nodes = unleash.start_two(Path(var_dir), log)
        started += nodes
        unleash.seed(nodes[0].port, log)
        targets = peers_load.targets(ours, bare, nodes, tokens)
        results["server"] = {
            "ours": " ".join(ours.cmd[1:]),
            "bare": " ".join(bare.cmd[1:]),
            "unleash": f"unleash-server {unleash.VERSION}, 2 node processes (ports "
            f"{nodes[0].port}, {nodes[1].port}), load split between them",
        }
        results["response_bytes"] = peers_load.response_sizes(targets)
        log(f"{args.rounds} interleaved rounds of {len(targets)} bursts …")
        runs = interleave(targets, args)
        results["runs"] = summarise(runs)
        log("flip -> first poll …")
        results["flip"] = {
            "ours": peers_load.our_flips(ours.port, tokens, args.flips),
            "unleash": unleash.flips(nodes, args.flips),
        }
        results |= judge(runs, results["flip"])
    except BaseException as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        import traceback

        traceback.print_exc()
    finally:
        for server in started:
            server.stop()
        try:
            from django.db import connections

            connections.close_all()
            env.drop_database()
            unleash.drop_database()
            env.flush_redis_db15()
        except Exception as exc:  # noqa: BLE001
            log(f"cleanup: {exc}")
    results["machine"] = results.get("machine", {}) | {
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()]
    }
    Path(args.output).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(json.dumps({k: results.get(k) for k in ("runs", "flip", "ratios", "pass")}, indent=2))
    log(f"results written to {args.output}")
    return 1 if "error" in results else 0


if __name__ == "__main__":
    with env.BenchLock(log):
        sys.exit(main())
