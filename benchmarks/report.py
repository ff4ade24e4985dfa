"""The printed table (the same numbers as latest.json, one line per measurement)."""


def _verdict(entry):
    if entry.get("available") is False:
        return "n/a"
    if "pass" not in entry:
        return ""
    return "PASS" if entry["pass"] else "MISS"


def _fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}" if abs(value) < 100 else f"{value:,.0f}{unit}"
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def rows(results):
    suites = results.get("suites", {})
    out = []
    gateway = suites.get("gateway")
    if gateway:
        if gateway.get("available") is False or "targets" not in gateway:
            out.append(
                (
                    "gateway policy",
                    "-",
                    gateway.get("why") or gateway.get("error"),
                    "",
                    _verdict(gateway),
                )
            )
        else:
            for name, t in gateway["targets"].items():
                out.append(
                    (
                        f"gateway {name}",
                        t["path"],
                        f"{_fmt(t['rps'])} req/s, p50 {_fmt(t['p50_ms'])} ms, "
                        f"p99 {_fmt(t['p99_ms'])} ms, x{_fmt(t['ratio_to_trivial'])} trivial, "
                        f"{_fmt(t.get('queries_per_request'))} SQL",
                        t.get("target", "baseline"),
                        _verdict(t),
                    )
                )
    prop = suites.get("propagation")
    if prop:
        value = (
            prop.get("why") or prop.get("error")
            if prop.get("available") is False or "error" in prop
            else f"median {_fmt(prop['median_ms'])} ms, p95 {_fmt(prop['p95_ms'])} ms, "
            f"max {_fmt(prop['max_ms'])} ms ({prop['seen']}/{prop['flips']} seen, "
            f"at most {prop.get('polls_max')} poll(s) after the flip)"
        )
        out.append(
            ("kill-switch propagation", "flip -> policy", value, "<= 100 ms", _verdict(prop))
        )
    pages = suites.get("pages")
    if pages and "error" in pages:
        out.append(("pages", "", pages["error"], "", "MISS"))
    elif pages:
        small, large = pages["small"], pages["large"]
        out.append(
            (
                "pages: data",
                "",
                f"{small['tickets']:,} -> {large['tickets']:,} tickets, "
                f"{large['ticket_history_rows']:,} history rows, "
                f"{_fmt(large['audit_records'])} audit records",
                "",
                "",
            )
        )
        for name, p in pages["pages"].items():
            if not p.get("available") or "error" in p:
                out.append((f"page {name}", "", p.get("why") or p.get("error"), "", _verdict(p)))
                continue
            out.append(
                (
                    f"page {name}",
                    p["path"],
                    f"queries {p['queries_small']} -> {p['queries_large']}, p95 "
                    f"{_fmt(p['p95_small_ms'])} -> {_fmt(p['p95_large_ms'])} ms "
                    f"(x{_fmt(p['p95_ratio'])})",
                    "queries const, p95 <= 1.5x",
                    _verdict(p),
                )
            )
    roll = suites.get("rollouts")
    if roll:
        if roll.get("available") is False or "error" in roll:
            out.append(
                ("advance_rollouts", "", roll.get("why") or roll.get("error"), "", _verdict(roll))
            )
        else:
            steady = roll["ticks"][-1]
            out.append(
                (
                    "advance_rollouts",
                    f"{roll['ramping']:,} ramping",
                    f"tick 1 {_fmt(roll['tick_s_first'])} s ({roll['ticks'][0]['outcomes']}), "
                    f"steady {_fmt(steady['seconds'])} s; {_fmt(roll['queries_per_ticket'])} "
                    f"SQL/ticket, {_fmt(roll['queries_per_promotion_or_hold'])} SQL/promotion",
                    roll["target"],
                    _verdict(roll),
                )
            )
            out.append(
                (
                    "breach -> halt",
                    "",
                    f"sample->halt {_fmt(roll['breach_to_halt_s'])} s "
                    f"in a tick; worst case {_fmt(roll['breach_to_halt_bound_s'])} s",
                    "<= 2 beats (120 s)",
                    "PASS" if roll.get("breach_pass") else "MISS",
                )
            )
    prom = suites.get("prometheus")
    if prom:
        if prom.get("available") is False or "error" in prom:
            out.append(
                (
                    "prometheus guards tick",
                    "",
                    prom.get("why") or prom.get("error"),
                    "",
                    _verdict(prom),
                )
            )
        else:
            ticks = ", ".join(f"{_fmt(t['seconds'])} s" for t in prom["ticks"])
            first = prom["ticks"][0]
            out.append(
                (
                    "prometheus guards tick",
                    f"{prom['tickets']:,} ramping x 4 guards",
                    f"ticks {ticks}; per ticket {_fmt(first['guard_queries_per_ticket'])} guard "
                    f"queries in {_fmt(first['requests_per_ticket'])} HTTP requests, "
                    f"{_fmt(first['sql_per_ticket'])} SQL",
                    "< 30 s",
                    _verdict(prom),
                )
            )
    csv = suites.get("csv")
    if csv:
        if csv.get("available") is False or "error" in csv:
            out.append(
                ("audit CSV export", "", csv.get("why") or csv.get("error"), "", _verdict(csv))
            )
        else:
            out.append(
                (
                    "audit CSV export",
                    f"{csv['rows']:,} rows",
                    f"{_fmt(csv['seconds_download'])} s, {_fmt(csv['mb'])} MB, worker RSS "
                    f"+{_fmt(csv['rss_growth_mb'])} MB",
                    csv["target"],
                    _verdict(csv),
                )
            )
    from benchmarks import audit_verify, flips
    from benchmarks.client import report_rows

    out += report_rows(suites.get("client"))
    out += flips.report_rows(suites.get("flips"))
    out += audit_verify.report_rows(suites.get("verify"))
    return out


def table(results):
    header = ("measurement", "target/path", "result", "target", "")
    lines = [header, *rows(results)]
    caps = (26, 38, 120, 50, 4)
    widths = [min(max(len(str(line[i] or "")) for line in lines), caps[i]) for i in range(5)]
    rendered = []
    for n, line in enumerate(lines):
        rendered.append(
            "  ".join(str(cell or "").ljust(w)[:w] for cell, w in zip(line, widths, strict=True))
        )
        if n == 0:
            rendered.append("  ".join("-" * w for w in widths))
    machine = results.get("machine", {})
    rendered.append("")
    rendered.append(
        f"machine: {machine.get('cpus')} CPUs ({machine.get('cpu_model')}), "
        f"{machine.get('memory_gb')} GB, Python {machine.get('python')}, Django "
        f"{machine.get('django')}, PostgreSQL {machine.get('postgresql')}, "
        f"Redis {machine.get('redis')}; load average {machine.get('load_average_at_start')} "
        f"at the start, {machine.get('load_average_at_end')} at the end; {results.get('seconds')} s"
    )
    return "\n".join(rendered)
