"""Bursts for bench-peers: wrk (Debian's `wrk`), one process per server port, and the CPU the
servers spent on them (their process trees plus their PostgreSQL backends)."""

import re
import shutil
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from . import env
from . import suites as s

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Target:
    ports: list[int]
    path: str
    headers: dict = field(default_factory=dict)
    pids: object = None  # () -> list of pids: the server's process tree
    database: str = ""  # its PostgreSQL backends are counted too
    workers: object = None  # () -> gunicorn's worker pids, whose shares of the work are checked


def name() -> str:
    wrk = shutil.which("wrk")
    if not wrk:
        raise RuntimeError("bench-peers needs wrk: apt-get install -y wrk")
    return "wrk 4 (Debian), -t1 per server port"


def _cpu_seconds(pids) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _backend_pids(database: str) -> list[int]:
    if not database:
        return []
    import psycopg

    with psycopg.connect(f"{env.PG_SERVER}/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            [database],
        ).fetchall()
    return [row[0] for row in rows]


def _parse_wrk(out: str) -> dict:
    def latency(pct):
        found = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(found.group(1)) * UNITS[found.group(2)] if found else None

    requests = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:(.*)", out)
    return {
        "requests": int(requests.group(1)) if requests else 0,
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50_ms": latency(50),
        "p99_ms": latency(99),
        "non_2xx_3xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def _wrk(port, path, headers, seconds, connections) -> dict:
    # wrk takes whole seconds only
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for header, value in headers.items():
        command += ["-H", f"{header}: {value}"]
    command.append(f"http://{env.HOST}:{port}{path}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    return _parse_wrk(done.stdout)


# gunicorn's workers share one listening socket and race to accept: now and then one worker wins
# all of wrk's connections and the other idles, and that burst measures the accept race (about a
# third of the requests/s at twice the CPU per request, as often for the bare "ok" as for us), not
# the server. Such a burst is run again, up to MAX_ATTEMPTS in all, and counted. Unleash's two
# processes each get their own port and half the connections, so they never fall into it.
MIN_WORKER_SHARE = 0.2
MAX_ATTEMPTS = 4


def burst(target: Target, seconds: float, connections: int) -> dict:
    """One burst, measured again while gunicorn gave all its connections to one worker."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = _burst(target, seconds, connections)
        result["attempts"] = attempt
        if result.get("min_worker_share", 1.0) >= MIN_WORKER_SHARE:
            break
    return result


def _burst(target: Target, seconds: float, connections: int) -> dict:
    """One burst spread over the target's ports; requests/s summed, latencies request-weighted."""
    workers = target.workers() if target.workers else []
    workers_before = [_cpu_seconds([pid]) for pid in workers]
    pids = target.pids() + _backend_pids(target.database)
    cpu_before = _cpu_seconds(pids)
    per_port = max(1, connections // len(target.ports))
    with ThreadPoolExecutor(len(target.ports)) as pool:
        parts = list(
            pool.map(
                lambda port: _wrk(port, target.path, target.headers, seconds, per_port),
                target.ports,
            )
        )
    # Backends opened during the burst count from zero.
    pids = list(dict.fromkeys(pids + target.pids() + _backend_pids(target.database)))
    cpu = _cpu_seconds(pids) - cpu_before
    shares = [
        _cpu_seconds([pid]) - before for pid, before in zip(workers, workers_before, strict=True)
    ]
    requests = sum(p["requests"] for p in parts)

    def weighted(key):
        values = [(p[key], p["requests"]) for p in parts if p[key] is not None and p["requests"]]
        total = sum(n for _, n in values)
        return sum(v * n for v, n in values) / total if total else None

    found = {
        "requests": requests,
        "rps": sum(p["rps"] for p in parts),
        "p50_ms": weighted("p50_ms"),
        "p99_ms": weighted("p99_ms"),
        "cpu_ms_per_request": cpu * 1000 / requests if requests else None,
        "statuses": {
            "non_2xx_3xx": sum(p["non_2xx_3xx"] for p in parts),
            "socket_errors": [p["socket_errors"] for p in parts if p["socket_errors"]],
        },
    }
    if len(shares) > 1 and sum(shares) > 0:
        found["min_worker_share"] = round(min(shares) / sum(shares), 3)
    return found


def raw_response(port, path, headers) -> tuple[int, int]:
    """(status, bytes on the wire) of one keep-alive GET, headers included."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {env.HOST}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((env.HOST, port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        want = int(length.group(1)) if length and status != 304 else 0
        if not length and status == 200:  # chunked: read until the last chunk
            while not body.endswith(b"0\r\n\r\n"):
                body += sock.recv(65536)
            want = len(body)
        while len(body) < want:
            body += sock.recv(65536)
    return status, len(head) + 4 + want


def etag_of(port, path, headers) -> str:
    _, found, _ = env.request("GET", port, path, headers=headers)
    return found.get("etag", "")


def targets(ours, bare, nodes, tokens) -> dict:
    from . import unleash

    gateway = {"Authorization": f"Token {tokens['gateway']}"}
    ours_t = {}
    for fmt, path in (("json", s.JSON_POLICY), ("yaml", s.YAML_POLICY)):
        ours_t[f"ours_{fmt}_200"] = Target(
            [ours.port], path, gateway, ours.pids, env.BENCH_DB, ours.worker_pids
        )
        etag = etag_of(ours.port, path, gateway)
        ours_t[f"ours_{fmt}_304"] = Target(
            [ours.port],
            path,
            {**gateway, "If-None-Match": etag},
            ours.pids,
            env.BENCH_DB,
            ours.worker_pids,
        )
    ports = [node.port for node in nodes]

    def node_pids():
        return [pid for node in nodes for pid in node.pids()]

    client = unleash.client_headers()
    etag = etag_of(ports[0], unleash.FEATURES, client)
    return {
        "bare_ok": Target([bare.port], "/ok", {}, bare.pids, workers=bare.worker_pids),
        **ours_t,
        "unleash_200": Target(ports, unleash.FEATURES, client, node_pids, unleash.DATABASE),
        "unleash_304": Target(
            ports, unleash.FEATURES, {**client, "If-None-Match": etag}, node_pids, unleash.DATABASE
        ),
    }


def response_sizes(targets: dict) -> dict:
    sizes = {}
    for name, target in targets.items():
        status, size = raw_response(target.ports[0], target.path, target.headers)
        sizes[name] = {"status": status, "bytes": size}
    return sizes


def our_flips(port, tokens, flips) -> dict:
    ctx = s.Context(
        port=port,
        load=None,
        gunicorn=None,
        log=print,
        rounds=0,
        burst_s=0,
        page_requests=0,
        flips=flips,
        tokens=tokens,
    )
    return s.propagation(ctx)
