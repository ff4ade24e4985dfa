#!/usr/bin/env python
"""`make bench`: gunicorn on PostgreSQL and Redis, load from a second process, a table and
benchmarks/results/latest.json. See benchmarks/README.md for what each number means.

    .venv/bin/python benchmarks/run.py [--quick] [--only gateway,propagation,client,pages,rollouts,prometheus,csv,flips,verify]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import env  # noqa: E402

SUITES = [
    "gateway", "propagation", "client", "pages", "rollouts", "prometheus", "csv", "flips", "verify"
]  # fmt: skip
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"

_started = time.monotonic()


def log(message):
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests")
    parser.add_argument("--only", default=",".join(SUITES), help="comma-separated suites")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--concurrency", type=int, default=4, help="load processes")
    parser.add_argument("--large-tickets", type=int, default=10_000)
    parser.add_argument("--history-rows", type=int, default=1_000_000)
    parser.add_argument("--ramping", type=int, default=1_000)
    parser.add_argument("--csv-rows", type=int, default=100_000)
    parser.add_argument("--loaders", type=int, default=4, help="ticket filers during flips")
    parser.add_argument(
        "--verify-records", default="100000,1000000", help="verify_audit sizes, comma-separated"
    )
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--keep-db", action="store_true", help="leave changemgmt_bench behind")
    return parser.parse_args()


def machine_info():
    import django
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    import redis

    redis_version = redis.Redis.from_url(env.REDIS_URL).info().get("redis_version")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": pg_version,
        "redis": redis_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def setup_django(environ):
    os.environ.update(environ)
    import django

    django.setup()


def prepare_database(args):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    log("migrating changemgmt_bench …")
    call_command("migrate", verbosity=0, interactive=False)
    log("seeding the demo world …")
    with open(os.devnull, "w") as devnull:
        call_command("seed_demo", password=env.PASSWORD, stdout=devnull)
    User = get_user_model()
    return {
        name: Token.objects.get_or_create(user=User.objects.get(username=name))[0].key
        for name in ("gateway", "platform_team", "release_manager", "auditor", "observability")
    }


def run_suite(name, results, fn, *fn_args):
    """Run one suite; an error is recorded and the run goes on. A database connection killed
    under it (another process restarting PostgreSQL) gets one retry on fresh connections."""
    from django.db import OperationalError, connections

    log(f"== {name}")
    started = time.monotonic()
    for attempt in (1, 2):
        try:
            results[name] = fn(*fn_args)
            break
        except OperationalError as exc:
            traceback.print_exc()
            connections.close_all()
            results[name] = {"available": True, "error": f"OperationalError: {exc}", "pass": False}
            if attempt == 1:
                log(f"   database error, retrying {name} once …")
                time.sleep(3)
        except Exception as exc:  # one broken suite must not lose the others' numbers
            traceback.print_exc()
            results[name] = {
                "available": True,
                "error": f"{type(exc).__name__}: {exc}",
                "pass": False,
            }
            break
    results[name]["seconds"] = round(time.monotonic() - started, 1)
    if results[name].get("available") is False:
        log(f"   not available: {results[name].get('why')}")


def main():
    # whitenoise warns that STATIC_ROOT is missing: the bench never serves static files.
    warnings.filterwarnings("ignore", message="No directory at")
    args = parse_args()
    only = set(args.only.split(","))
    var_dir = env.make_var_dir()
    environ = env.bench_environ(var_dir)
    results = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "quick": args.quick,
        "suites": {},
    }
    suites = results["suites"]
    pages = {}
    gunicorn = load = None
    try:
        log(f"creating database {env.BENCH_DB} and flushing Redis DB 15 …")
        env.recreate_database()
        env.flush_redis_db15()
        setup_django(environ)
        tokens = prepare_database(args)
        results["machine"] = machine_info()

        from benchmarks import datagen, loadgen
        from benchmarks import suites as s

        log("adding 100 tickets …")
        datagen.add_tickets(100, active=True, history_per_ticket=10, log=log)
        datagen.analyze()

        log(f"starting gunicorn ({args.workers} workers x {args.threads} threads) …")
        gunicorn = env.Gunicorn(environ, args.workers, args.threads, Path(var_dir) / "web.log")
        gunicorn.wait_healthy()
        results["server"] = {
            "command": " ".join(gunicorn.cmd[1:]),
            "load_processes": args.concurrency,
        }
        load = loadgen.LoadGenerator(env.HOST, gunicorn.port, args.concurrency)
        ctx = s.Context(
            port=gunicorn.port,
            load=load,
            gunicorn=gunicorn,
            log=log,
            tokens=tokens,
            rounds=3 if args.quick else 5,
            burst_s=0.8 if args.quick else 1.5,
            page_requests=15 if args.quick else 40,
            flips=10 if args.quick else 20,
        )

        if "gateway" in only:
            run_suite("gateway", suites, s.gateway_policy, ctx)
        if "propagation" in only:
            run_suite("propagation", suites, s.propagation, ctx)
        if "client" in only:
            from benchmarks import client as gateway_client

            run_suite("client", suites, gateway_client.client_bench, ctx)
        if "pages" in only:
            run_suite("pages_small", pages, s.pages_at_size, ctx, "100 tickets")
        if only & {"pages", "csv", "rollouts"}:
            run_suite("data", results, grow_to, args, datagen)
        if "pages" in only:
            run_suite("pages_large", pages, s.pages_at_size, ctx, "large")
            if "error" not in pages["pages_small"] and "error" not in pages["pages_large"]:
                suites["pages"] = {
                    "small": _summary(pages["pages_small"]),
                    "large": _summary(pages["pages_large"]),
                    "pages": s.compare_sizes(pages["pages_small"], pages["pages_large"]),
                }
            else:
                suites["pages"] = {
                    "available": True,
                    "pass": False,
                    "error": "; ".join(p.get("error", "") for p in pages.values()),
                }
        if "rollouts" in only:
            from benchmarks import rollouts as r

            run_suite("rollouts", suites, r.advance_rollouts_bench, ctx, args.ramping)
        if "prometheus" in only:
            from benchmarks import prometheus_guards as pg

            run_suite("prometheus", suites, pg.prometheus_tick_bench, args.ramping, log)
        if "csv" in only:
            from benchmarks import csv_export as c

            run_suite("csv", suites, c.csv_export_bench, ctx, args.csv_rows)
        if "flips" in only:
            run_suite("flips", suites, flips_suite, ctx, args)
        if "verify" in only:  # last: it empties the audited tables to write a valid chain
            from benchmarks import audit_verify as v

            sizes = [int(n) for n in args.verify_records.split(",")]
            run_suite("verify", suites, v.verify_audit_bench, sizes, log)
    except BaseException as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    finally:
        if load:
            load.close()
        if gunicorn:
            gunicorn.stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 (Django may never have started)
            pass
        if not args.keep_db:
            try:
                env.drop_database()
            except Exception as exc:  # noqa: BLE001
                log(f"could not drop {env.BENCH_DB}: {exc}")
        try:
            env.flush_redis_db15()
        except Exception:  # noqa: BLE001
            pass
    results["seconds"] = round(time.monotonic() - _started, 1)
    results.setdefault("machine", {})["load_average_at_end"] = [
        round(x, 2) for x in os.getloadavg()
    ]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, indent=2, default=str) + "\n")
    from benchmarks.report import table

    print()
    print(table(results))
    log(f"results written to {args.output}")
    return 1 if "error" in results else 0


def grow_to(args, datagen):
    started = time.monotonic()
    have = datagen.ticket_count()
    to_add = max(0, args.large_tickets - have)
    if not to_add:
        return {"added_tickets": 0}
    per_ticket = max(1, round((args.history_rows - datagen.history_count()) / to_add))
    log(
        f"adding {to_add:,} tickets with {per_ticket} history rows each "
        f"(~{to_add * per_ticket:,} rows) …"
    )
    datagen.add_tickets(to_add, active=False, history_per_ticket=per_ticket, log=log)
    log("ANALYZE …")
    datagen.analyze()
    return {
        "added_tickets": to_add,
        "tickets": datagen.ticket_count(),
        "ticket_history_rows": datagen.history_count(),
        "seconds": round(time.monotonic() - started, 1),
    }


def flips_suite(ctx, args):
    from benchmarks import flips

    return flips.flips_bench(
        ctx,
        loaders=args.loaders,
        flips=40 if args.quick else 200,
        writer_seconds=5 if args.quick else 10,
    )


def _summary(size):
    return {k: size[k] for k in ("tickets", "ticket_history_rows", "audit_records")} | {
        "queries": size["queries"],
        "latency": size["latency"],
    }


def locked_main():
    with env.BenchLock(log):
        return main()


if __name__ == "__main__":
    sys.exit(locked_main())
