"""The gateway client (clients/python, issue 13): decide() against UnleashClient, bucketing accuracy
over 1,000,000 keys, and flip → applied in two client processes polling at 1 s.

    .venv/bin/python benchmarks/run.py --only client
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FEATURE = "support-assistant"
FLIP = f"/api/v1/kill-switches/feature/{FEATURE}/flip/"


def _percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def _policy_document() -> dict:
    """The demo's switches plus one feature ramping at 10%: what a gateway decides on."""
    return {
        "version": 1,
        "feature_kill_switches": {
            "policy-search-v1": {"enabled": True, "fallback": "keyword-search-v3"},
            FEATURE: {"enabled": True, "fallback": "human-agent-queue"},
        },
        "model_kill_switches": [
            {"model": "openai.gpt-4o-2024-11", "disabled": False,
             "fallback_model": "anthropic.claude-sonnet-4-5"},
        ],  # fmt: skip
        "tenant_kill_switches": {
            "enterprise-tenant-12891": {"ai_disabled": True, "reason": "pause", "expires": None}
        },
        "ramps": [
            {
                "feature": FEATURE, "change_id": "CHG-2026-04891", "traffic_percent": 10,
                "candidate": {"prompt_version": "support-assistant@42", "candidate_model": None},
                "audience": {"tenant_segments": [], "regions": [], "cohorts": []},
                "stage": 2, "stages": 4, "state": "ramping",
            }
        ],  # fmt: skip
        "live": {FEATURE: {"prompt_version": "support-assistant@41",
                           "model": "openai.gpt-4o-2024-11", "change_id": "CHG-2026-04001"}},
        "canary_exercises": [],
    }  # fmt: skip


def _unleash_client(tmp: str):
    """UnleashClient bootstrapped offline with the equivalent toggle: a gradual rollout (10%,
    sticky on userId), no fetch, no metrics, no registration."""
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache

    cache = FileCache("changemgmt-bench", directory=tmp)
    cache.bootstrap_from_dict(
        {
            "version": 1,
            "features": [
                {
                    "name": FEATURE,
                    "enabled": True,
                    "strategies": [
                        {
                            "name": "flexibleRollout",
                            "parameters": {
                                "rollout": "10",
                                "stickiness": "userId",
                                "groupId": FEATURE,
                            },  # fmt: skip
                        }
                    ],
                }
            ],
        }
    )
    client = UnleashClient(
        url="http://127.0.0.1:9/api", app_name="changemgmt-bench", disable_metrics=True,
        disable_registration=True, cache=cache, refresh_interval=3600,
    )  # fmt: skip
    client.initialize_client(fetch_toggles=False)
    return client


def _timed(call, keys, rounds=3):
    """Best-of-`rounds` throughput over `keys`, and p50/p99 of single calls (ns)."""
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for key in keys:
            call(key)
        best = max(best, len(keys) / (time.perf_counter() - started))
    samples = []
    clock = time.perf_counter_ns
    for key in keys[:20_000]:
        t0 = clock()
        call(key)
        samples.append(clock() - t0)
    return {
        "per_second": round(best),
        "p50_us": round(_percentile(samples, 50) / 1000, 2),
        "p99_us": round(_percentile(samples, 99) / 1000, 2),
    }


def decide_vs_unleash(n=100_000) -> dict:
    from changemgmt_gateway import Snapshot

    snapshot = Snapshot(_policy_document())
    keys = [f"user-{i}" for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        unleash = _unleash_client(tmp)
        try:
            # Interleaved, same process, same keys: noise hits both alike.
            ours = _timed(lambda k: snapshot.decide(FEATURE, user=k, region="EU"), keys)
            theirs = _timed(lambda k: unleash.is_enabled(FEATURE, {"userId": k}), keys)
            in_ours = sum(snapshot.decide(FEATURE, user=k).route == "candidate" for k in keys)
            in_theirs = sum(unleash.is_enabled(FEATURE, {"userId": k}) for k in keys)
        finally:
            unleash.destroy()
    ratio = ours["per_second"] / theirs["per_second"]
    return {
        "decide": ours,
        "unleash_is_enabled": theirs,
        "ratio": round(ratio, 2),
        "share_in_rollout": {"decide": in_ours / n, "unleash": in_theirs / n},
        "target": "decide() >= 3x UnleashClient.is_enabled throughput",
        "pass": ratio >= 3,
    }


def bucketing_accuracy(n=1_000_000) -> dict:
    from changemgmt_gateway.bucketing import bucket, threshold

    buckets = [bucket("CHG-2026-04891", f"user-{i}") for i in range(n)]
    shares, members = {}, {}
    for percent in (1, 10, 50):
        cut = threshold(percent)
        members[percent] = {i for i, b in enumerate(buckets) if b < cut}
        shares[percent] = len(members[percent]) / n * 100
    sticky_10 = len(members[1] & members[10]) / len(members[1])
    sticky_50 = len(members[10] & members[50]) / len(members[10])
    # Independent between tickets: the overlap of two tickets' 10% is ~1% of all keys.
    other = [bucket("CHG-2026-04892", f"user-{i}") for i in range(0, n, 10)]
    overlap = sum(1 for j, b in enumerate(other) if b < 1000 and j * 10 in members[10])
    errors = {p: round(abs(shares[p] - p), 4) for p in shares}
    return {
        "keys": n,
        "share_percent": {p: round(s, 4) for p, s in shares.items()},
        "error_pp": errors,
        "sticky_1_to_10": sticky_10,
        "sticky_10_to_50": sticky_50,
        "two_tickets_both_in_10_percent": round(overlap / len(other) * 100, 3),
        "target": "|share - target| <= 0.1 pp at 1/10/50%, stickiness 100%",
        "pass": max(errors.values()) <= 0.1 and sticky_10 == 1.0 and sticky_50 == 1.0,
    }


POLLER = r"""
import sys, time
from changemgmt_gateway import PolicyClient
base, token, key_file, name = sys.argv[1:5]
client = PolicyClient(base, token, open(key_file).read(), gateway_id=name, interval=1.0)
client.refresh()
print(json.dumps({"version": client.version, "at": time.time()}), flush=True)
seen = client.version
client.start()
while True:
    v = client.version
    if v != seen:
        print(json.dumps({"version": v, "at": time.time()}), flush=True)
        seen = v
    time.sleep(0.002)
""".replace("import sys, time", "import json, sys, time")


def flip_to_applied(ctx, flips=10) -> dict:
    """Two client processes poll at 1 s; each flip's response time → the moment each process has
    applied the version (its own clock, the same host)."""
    from changemgmt_gateway.verify import load_public_key  # noqa: F401 (installed?)

    from benchmarks import env

    key_file = Path(tempfile.mkstemp(suffix=".pem")[1])
    status, _, pem = env.request("GET", ctx.port, "/gateway-policies/public-key",
                                 headers={"Authorization": f"Token {ctx.tokens['gateway']}"})  # fmt: skip
    if status != 200:
        return {"available": False, "why": f"public key answered {status}"}
    key_file.write_text(pem.decode() if isinstance(pem, bytes) else pem)
    _bind_bench_gateways()
    base = f"http://{env.HOST}:{ctx.port}"
    processes, lines = [], []
    for n in (1, 2):
        proc = subprocess.Popen(
            [sys.executable, "-c", POLLER, base, ctx.tokens["gateway"], str(key_file),
             f"bench-gw-{n}"],
            stdout=subprocess.PIPE, text=True, env={**os.environ},
        )  # fmt: skip
        processes.append(proc)
        seen = []
        lines.append(seen)
        threading.Thread(target=_read_lines, args=(proc, seen), daemon=True).start()
    try:
        _wait(lambda: all(seen for seen in lines), 60)
        flipper = {"Authorization": f"Token {ctx.tokens['platform_team']}"}
        delays, failures, flipped = [], [], []
        engaged = True
        for i in range(flips):
            status, _, body = env.request("POST", ctx.port, FLIP, headers=flipper,
                                          body={"engaged": engaged, "reason": "bench"})  # fmt: skip
            at = time.time()
            if status >= 300:
                failures.append(f"flip {i + 1}: {status}")
                continue
            version = json.loads(body)["version"]
            flipped.append((version, at))
            for seen in lines:
                if not _wait(lambda s=seen, v=version: any(e["version"] >= v for e in s), 10):
                    failures.append(f"flip {i + 1}: not applied in 10 s")
                    continue
                applied = next(e["at"] for e in seen if e["version"] >= version)
                delays.append((applied - at) * 1000)
            engaged = not engaged
            time.sleep(0.3 + (i % 4) * 0.23)  # flips land at different points of the poll cycle
        ack_ms = _ack_delays(flipped)
    finally:
        for proc in processes:
            proc.terminate()
            proc.wait(10)
        key_file.unlink(missing_ok=True)
    p95 = _percentile(delays, 95) if delays else None
    return {
        "flips": flips,
        "processes": 2,
        "interval_s": 1.0,
        "applied_ms": {
            "median": round(statistics.median(delays), 1) if delays else None,
            "p95": round(p95, 1) if p95 is not None else None,
            "max": round(max(delays), 1) if delays else None,
        },
        "time_to_kill_ms": ack_ms,
        "failures": failures,
        "target": "p95 flip -> applied <= interval + 100 ms (1,100 ms)",
        "pass": bool(delays) and not failures and p95 <= 1100,
    }


def _read_lines(proc, seen):
    for line in proc.stdout:
        try:
            seen.append(json.loads(line))
        except ValueError:
            pass


def _wait(check, timeout):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _bind_bench_gateways():
    from django.contrib.auth import get_user_model

    from changemgmt.audit.recording import system_user
    from changemgmt.killswitches.services import gateway_bind

    account = get_user_model().objects.get(username="gateway")
    for n in (1, 2):
        gateway_bind(gateway_id=f"bench-gw-{n}", account=account, acting_user=system_user())


def _ack_delays(flipped) -> dict:
    """Time-to-kill as game days measure it: the flip's response → the last of the two gateways'
    acks of that version (the ack is recorded by the server, so this includes the ack request)."""
    from changemgmt.killswitches.models import GatewayAck

    delays = []
    for version, at in flipped:
        acks = GatewayAck.objects.filter(
            gateway__gateway_id__startswith="bench-gw-", version__gte=version
        ).values_list("gateway__gateway_id", "acked_at")
        first = {}
        for name, acked_at in acks:
            first[name] = min(first.get(name, acked_at), acked_at)
        if len(first) == 2:
            delays.append((max(first.values()).timestamp() - at) * 1000)
    if not delays:
        return {}
    return {
        "median": round(statistics.median(delays), 1),
        "p95": round(_percentile(delays, 95), 1),
    }


def client_bench(ctx) -> dict:
    ctx.log("   decide() vs UnleashClient.is_enabled …")
    result = {"available": True, "decide_vs_unleash": decide_vs_unleash()}
    ctx.log("   bucketing 1,000,000 keys …")
    result["bucketing"] = bucketing_accuracy()
    ctx.log("   flip → applied in two client processes …")
    result["flip_to_applied"] = flip_to_applied(ctx, flips=ctx.flips)
    result["pass"] = all(result[k]["pass"] for k in ("decide_vs_unleash", "bucketing",
                                                     "flip_to_applied"))  # fmt: skip
    return result


def report_rows(suite) -> list[tuple]:
    if not suite:
        return []
    if suite.get("available") is False or "error" in suite:
        return [("gateway client", "", suite.get("why") or suite.get("error"), "", "FAIL")]

    def verdict(entry):
        return "pass" if entry.get("pass") else "FAIL"

    d, b, f = suite["decide_vs_unleash"], suite["bucketing"], suite["flip_to_applied"]
    ours, theirs = d["decide"], d["unleash_is_enabled"]
    return [
        (
            "client decide() vs Unleash",
            "one thread, same process",
            f"{ours['per_second']:,}/s p50 {ours['p50_us']} µs p99 {ours['p99_us']} µs vs "
            f"{theirs['per_second']:,}/s p50 {theirs['p50_us']} µs p99 {theirs['p99_us']} µs: "
            f"{d['ratio']}×",
            d["target"],
            verdict(d),
        ),
        (
            "client bucketing",
            f"{b['keys']:,} keys",
            f"error {b['error_pp']} pp; sticky {b['sticky_1_to_10']:.0%} / "
            f"{b['sticky_10_to_50']:.0%}",
            b["target"],
            verdict(b),
        ),
        (
            "client flip → applied",
            f"{f['processes']} processes at {f['interval_s']} s",
            f"median {f['applied_ms']['median']} ms, p95 {f['applied_ms']['p95']} ms, max "
            f"{f['applied_ms']['max']} ms; time-to-kill (both acked) {f['time_to_kill_ms']}",
            f["target"],
            verdict(f),
        ),
    ]
