"""e. The audit CSV export over HTTP: time, size and the web worker's memory while it streams.

The worker serving the download is whichever gunicorn child grows; RSS of every child is sampled
every 10 ms during the download and compared with its value just before. A streamed export stays
flat whatever the row count; one built in memory grows with it.
"""

import http.client
import threading
import time

from . import datagen, env

EXPORT = "/audit/export.csv"


def _date_from_for(rows: int):
    """The date filter (`date_from`) that selects about `rows` of the newest audit records."""
    AuditRecord = datagen.audit_model()
    total = AuditRecord.objects.count()
    if total <= rows:
        return None, total
    edge = AuditRecord.objects.order_by("-created_at").values_list("created_at", flat=True)[rows]
    day = edge.date()
    return day, AuditRecord.objects.filter(created_at__date__gte=day).count()


def _download(ctx, path, cookie):
    import psutil

    workers = [psutil.Process(pid) for pid in ctx.gunicorn.worker_pids()]
    before = {p.pid: p.memory_info().rss for p in workers}
    peak = dict(before)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for p in workers:
                try:
                    peak[p.pid] = max(peak[p.pid], p.memory_info().rss)
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    conn = http.client.HTTPConnection(env.HOST, ctx.port, timeout=300)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    first_byte = time.perf_counter() - started
    size = lines = 0
    while chunk := response.read(65536):
        size += len(chunk)
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    conn.close()
    growth = max(peak[pid] - before[pid] for pid in before) if before else None
    return {
        "status": response.status,
        "seconds_download": round(seconds, 2),
        "seconds_first_byte": round(first_byte, 3),
        "mb": round(size / 2**20, 1),
        "rows": max(0, lines - 1),  # the header line
        "rss_before_mb": round(max(before.values()) / 2**20, 1) if before else None,
        "rss_growth_mb": round(growth / 2**20, 1) if growth is not None else None,
    }


def csv_export_bench(ctx, rows) -> dict:
    if datagen.audit_model() is None:
        return {"available": False, "why": "the audit app has no AuditRecord model"}
    if "auditor" not in ctx.sessions:
        ctx.sessions["auditor"] = env.login_session(ctx.port, "auditor")
    cookie = ctx.sessions["auditor"]
    status, _, _ = env.request(
        "GET", ctx.port, EXPORT + "?date_from=2999-01-01", headers={"Cookie": cookie}
    )
    if status == 404:
        return {"available": False, "why": f"{EXPORT} answered 404"}
    runs = {}
    for label, wanted in (("small", max(1, rows // 10)), ("large", rows)):
        day, expected = _date_from_for(wanted)
        path = EXPORT + (f"?date_from={day.isoformat()}" if day else "")
        run = _download(ctx, path, cookie) | {"path": path, "expected_rows": expected}
        runs[label] = run
        ctx.log(
            f"    {run['rows']:,} rows: {run['seconds_download']} s, {run['mb']} MB, "
            f"worker RSS +{run['rss_growth_mb']} MB"
        )
    large = runs["large"]
    result = {
        "available": True,
        **large,
        "small": runs["small"],
        "rows_per_s": round(large["rows"] / large["seconds_download"])
        if large["seconds_download"]
        else None,
        "target": "worker RSS growth <= 50 MB (flat in the row count)",
    }
    result["pass"] = bool(
        large["status"] == 200
        and large["rows"] >= large["expected_rows"]
        and large["rss_growth_mb"] is not None
        and large["rss_growth_mb"] <= 50
    )
    return result
