"""f. `verify_audit` over 100,000 and 1,000,000 audit records: time and peak memory (issue 14).

The bench database's other audit records carry filler hashes (datagen.py), so this suite runs
last and starts over: it empties every audited live table, every history table and the chain,
then writes a valid world straight into PostgreSQL — 1,000 cohorts, their history (one '+' row
and then '~' rows that repeat the live values, so the live-row check has 1,000 rows to compare)
and one correctly chained audit record per history row, hashed exactly as the app hashes them.
`manage.py verify_audit --json` then runs as its own process; its peak RSS comes from wait4(2),
so the 100,000 and 1,000,000 figures are each one run's own peak.
"""

import json
import os
import subprocess
import tempfile
import time

from . import env

COHORTS = 1_000
CHUNK = 20_000
RSS_TARGET_RATIO = 1.5  # peak RSS at 1M <= 1.5 x at 100k: flat, not growing with the chain


def _reset_audited_world():
    from django.db import connection

    from changemgmt.audit.chain import history_models, m2m_history_models
    from changemgmt.audit.models import GENESIS_HASH, AuditHead, AuditRecord

    tables = [AuditRecord._meta.db_table]
    tables += [m._meta.db_table for m in (*history_models(), *m2m_history_models())]
    tables += [m.instance_type._meta.db_table for m in history_models()]
    with connection.cursor() as cursor:
        quoted = ", ".join(connection.ops.quote_name(t) for t in dict.fromkeys(tables))
        cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    AuditHead.objects.update_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})


def _add_history(first: int, count: int):
    """History rows first..first+count-1 of the cohorts (SQL generate_series: seconds, not hours)."""
    from django.db import connection

    from changemgmt.catalog.models import Cohort

    history = Cohort.history.model._meta.db_table
    with connection.cursor() as cursor:
        if first == 1:
            cursor.execute(
                f"INSERT INTO {Cohort._meta.db_table} (id, slug, name) "
                "SELECT g, 'bench-' || g, 'Bench cohort ' || g FROM generate_series(1, %s) g",
                [COHORTS],
            )
        cursor.execute(
            f"INSERT INTO {history} (history_id, id, slug, name, history_date, "
            "history_change_reason, history_type, history_user_id) "
            "SELECT g, 1 + (g - 1) %% %s, 'bench-' || (1 + (g - 1) %% %s), "
            "'Bench cohort ' || (1 + (g - 1) %% %s), "
            "timestamptz '2025-01-01' + g * interval '1 second', 'bench', "
            "CASE WHEN g <= %s THEN '+' ELSE '~' END, NULL "
            "FROM generate_series(%s, %s) g",
            [COHORTS, COHORTS, COHORTS, COHORTS, first, first + count - 1],
        )
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{history}', 'history_id'), %s)", [
            first + count - 1
        ])  # fmt: skip


def _chain_history(first: int, count: int, log):
    """One audit record per new history row, chained after the head, written with COPY."""
    from django.db import connection

    from changemgmt.audit.chain import all_attnames
    from changemgmt.audit.models import AuditHead, AuditRecord
    from changemgmt.catalog.models import Cohort

    history_model = Cohort.history.model
    head = AuditHead.objects.get(pk=1)
    seq, prev_hash = head.seq, head.hash
    columns = [f.column for f in AuditRecord._meta.concrete_fields if not f.primary_key]
    started = time.monotonic()
    table = AuditRecord._meta.db_table
    for low in range(first, first + count, CHUNK):
        # A chunk read whole, then one COPY: the connection cannot read while it is copying.
        chunk = list(
            history_model.objects.filter(
                history_id__gte=low, history_id__lt=min(low + CHUNK, first + count)
            )
            .order_by("history_id")
            .values(*all_attnames(history_model))
        )
        with connection.connection.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for values in chunk:
                    seq += 1
                    record = _record(history_model, values, seq, prev_hash)
                    record.hash = prev_hash = record.compute_hash()
                    copy.write_row([_column(record, c) for c in columns])
        if (seq // CHUNK) % 10 == 0:
            log(f"    chained #{seq:,} ({time.monotonic() - started:.0f} s)")
    AuditHead.objects.filter(pk=1).update(seq=seq, hash=prev_hash)
    return seq


def _record(history_model, values, seq, prev_hash):
    from changemgmt.audit.chain import content_hash
    from changemgmt.audit.models import AuditRecord

    return AuditRecord(
        seq=seq,
        created_at=values["history_date"],
        history_model=history_model._meta.label_lower,
        history_id=values["history_id"],
        object_model="catalog.cohort",
        object_id=str(values["id"]),
        object_repr=values["name"],
        action=values["history_type"],
        reason="bench",
        changes={},
        content_hash=content_hash(values),
        prev_hash=prev_hash,
    )


def _column(record, column):
    return json.dumps(record.changes) if column == "changes" else getattr(record, column)


def _verify_in_a_process() -> dict:
    """`manage.py verify_audit --json` as its own process: wall time and its own peak RSS."""
    with tempfile.TemporaryFile() as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            [env.python(), "manage.py", "verify_audit", "--json", "--no-checkpoints"],
            cwd=env.ROOT,
            env=os.environ.copy(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    try:
        answer = json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        answer = {"intact": False, "broken": text[-500:]}
    return {
        "exit_code": proc.returncode,
        "intact": answer.get("intact"),
        "broken": answer.get("broken"),
        "records": answer.get("records"),
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
    }


def verify_audit_bench(sizes, log) -> dict:
    from django.db import connection

    if connection.vendor != "postgresql":
        return {"available": False, "why": "needs PostgreSQL"}
    log("  emptying the audited tables and the chain (this suite runs last) …")
    _reset_audited_world()
    runs, have = [], 0
    for size in sizes:
        started = time.monotonic()
        _add_history(have + 1, size - have)
        _chain_history(have + 1, size - have, log)
        generated = round(time.monotonic() - started, 1)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        have = size
        run = _verify_in_a_process() | {"size": size, "generate_seconds": generated}
        runs.append(run)
        log(
            f"    {size:,} records (generated in {generated} s): verify_audit {run['seconds']} s, "
            f"peak RSS {run['peak_rss_mb']} MB, exit {run['exit_code']}, intact {run['intact']}"
        )
    small, large = runs[0], runs[-1]
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"] if small["peak_rss_mb"] else None
    result = {
        "available": True,
        "runs": runs,
        "rss_ratio": round(ratio, 2) if ratio else None,
        "target": f"intact, exit 0; peak RSS at {large['size']:,} <= {RSS_TARGET_RATIO} x at "
        f"{small['size']:,} (flat)",
    }
    result["pass"] = bool(
        all(r["intact"] and r["exit_code"] == 0 for r in runs)
        and ratio is not None
        and ratio <= RSS_TARGET_RATIO
    )
    return result


def report_rows(suite) -> list:
    if not suite:
        return []
    if suite.get("available") is False or "error" in suite:
        why = suite.get("why") or suite.get("error")
        return [("verify_audit", "", why, "", "n/a" if suite.get("available") is False else "MISS")]
    runs = "; ".join(
        f"{r['size']:,}: {r['seconds']} s, peak RSS {r['peak_rss_mb']} MB"
        + ("" if r["intact"] else f" BROKEN: {r['broken']}")
        for r in suite["runs"]
    )
    verdict = "PASS" if suite["pass"] else "MISS"
    return [("verify_audit", "records", runs, suite["target"], verdict)]
