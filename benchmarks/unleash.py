"""Unleash for bench-peers: installed from npm into var/peers/unleash, two Node processes on the
machine's PostgreSQL (database unleash_bench), seeded with content like our demo's."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from . import env

VERSION = "7.5.1"  # the last release line that runs on Debian's Node 20
HOME = env.ROOT / "var" / "peers" / "unleash"
DATABASE = "unleash_bench"
ADMIN_TOKEN = "*:*.bench-peers-admin-token"
CLIENT_TOKEN = "default:development.bench-peers-client-token"
FEATURES = "/api/client/features"
ENVIRONMENT = "/api/admin/projects/default/features/{name}/environments/development"
FLIP_FEATURE = "policy-search-v1"

SERVER_JS = """
const unleash = require('unleash-server');
unleash.start({ server: { port: Number(process.env.PORT) }, logLevel: 'error' })
  .catch((e) => { console.error(e); process.exit(1); });
"""


def ensure_installed(log):
    if (HOME / "node_modules" / "unleash-server" / "package.json").exists():
        return
    HOME.mkdir(parents=True, exist_ok=True)
    log(f"installing unleash-server {VERSION} into {HOME} (npm) …")
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--omit=dev", f"unleash-server@{VERSION}"],
        cwd=HOME,
        check=True,
        timeout=1800,
    )


def client_headers():
    return {"Authorization": CLIENT_TOKEN, "UNLEASH-APPNAME": "bench-peers"}


def _admin():
    return {"Authorization": ADMIN_TOKEN}


class Node:
    def __init__(self, var_dir: Path, index: int):
        self.port = env.free_port()
        (HOME / "server.js").write_text(SERVER_JS)
        self.log = open(var_dir / f"unleash-{index}.log", "ab")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            ["node", "server.js"],
            cwd=HOME,
            env={
                **os.environ,
                "PORT": str(self.port),
                "DATABASE_URL": f"{env.PG_SERVER}/{DATABASE}",
                "DATABASE_SSL": "false",
                "INIT_ADMIN_API_TOKENS": ADMIN_TOKEN,
                "INIT_CLIENT_API_TOKENS": CLIENT_TOKEN,
                "LOG_LEVEL": "error",
                "NODE_ENV": "production",
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"unleash exited with {self.proc.returncode}")
            try:
                if env.request("GET", self.port, "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError("unleash did not answer /health in time")

    def pids(self) -> list[int]:
        import psutil

        try:
            return [self.proc.pid, *(c.pid for c in psutil.Process(self.proc.pid).children(True))]
        except psutil.NoSuchProcess:
            return []

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()


def _recreate_database():
    import psycopg

    with psycopg.connect(f"{env.PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def drop_database():
    import psycopg

    with psycopg.connect(f"{env.PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def start_two(var_dir: Path, log) -> list[Node]:
    """Two processes; the second starts once the first has migrated the database."""
    _recreate_database()
    log("starting unleash (2 node processes) …")
    nodes = [Node(var_dir, 0)]
    nodes[0].wait_healthy()
    nodes.append(Node(var_dir, 1))
    nodes[1].wait_healthy()
    return nodes


def _call(port, method, path, body=None, expect=(200, 201, 202, 204)):
    status, _, data = env.request(method, port, path, headers=_admin(), body=body)
    if status not in expect:
        raise RuntimeError(f"unleash {method} {path}: {status} {data[:300]!r}")
    return json.loads(data) if data else None


def _try(port, method, path, body=None):
    """A seeding step this Unleash may not offer: the run goes on without it (and says so)."""
    try:
        return _call(port, method, path, body)
    except RuntimeError as exc:
        print(f"unleash seeding: {exc}", flush=True)
        return None


def _demo_features():
    """Our demo's features and their fallbacks, read from the bench database."""
    from changemgmt.catalog.models import AIFeature

    return list(AIFeature.objects.values_list("slug", "fallback"))


def seed(port, log):
    """The demo's flags (kill-switch type), each with a fallback variant, and one segment."""
    features = _demo_features()
    log(f"seeding unleash with {len(features)} flags, a fallback variant each, a segment …")
    segment = _try(
        port,
        "POST",
        "/api/admin/segments",
        {
            "name": "enterprise-tenants",
            "constraints": [
                {
                    "contextName": "tenantId",
                    "operator": "NOT_IN",
                    "values": ["enterprise-tenant-12891"],
                }
            ],
        },
    )
    for slug, fallback in features:
        _call(
            port,
            "POST",
            "/api/admin/projects/default/features",
            {"name": slug, "type": "kill-switch"},
        )
        base = ENVIRONMENT.format(name=slug)
        _call(
            port,
            "POST",
            f"{base}/strategies",
            {
                "name": "flexibleRollout",
                "parameters": {"rollout": "100", "stickiness": "default", "groupId": slug},
                "segments": [segment["id"]] if segment else [],
                # The fallback as a strategy variant (7.x refuses environment variants).
                "variants": [
                    {
                        "name": "fallback",
                        "weight": 1000,
                        "weightType": "variable",
                        "stickiness": "default",
                        "payload": {"type": "string", "value": fallback or "off"},
                    }
                ],
            },
        )
        _call(port, "POST", f"{base}/on")


def _enabled(document, slug=FLIP_FEATURE):
    for feature in document.get("features", []):
        if feature.get("name") == slug:
            return feature.get("enabled")
    return None


def flips(nodes, count) -> dict:
    """Flip one flag through the admin API of one process, then poll the client API of the
    other like a gateway (If-None-Match, back to back) until a 200 shows it."""
    admin_port, poll_port = nodes[0].port, nodes[1].port
    status, headers, body = env.request("GET", poll_port, FEATURES, headers=client_headers())
    enabled, etag = _enabled(json.loads(body)), headers.get("etag", "")
    times_ms, polls, failures = [], [], []
    for i in range(count):
        _call(
            admin_port,
            "POST",
            f"{ENVIRONMENT.format(name=FLIP_FEATURE)}/{'off' if enabled else 'on'}",
        )
        flipped_at = time.perf_counter()
        n = 0
        while True:
            n += 1
            status, headers, body = env.request(
                "GET", poll_port, FEATURES, headers={**client_headers(), "If-None-Match": etag}
            )
            if status == 200:
                etag = headers.get("etag", "")
                if _enabled(json.loads(body)) == (not enabled):
                    times_ms.append((time.perf_counter() - flipped_at) * 1000)
                    polls.append(n)
                    break
            if time.perf_counter() - flipped_at > 10:
                failures.append(f"flip {i + 1}: not visible after 10 s")
                break
        enabled = not enabled
    ordered = sorted(times_ms)
    return {
        "flips": count,
        "seen": len(times_ms),
        "median_ms": round(ordered[len(ordered) // 2], 2) if ordered else None,
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2) if ordered else None,
        "max_ms": round(ordered[-1], 2) if ordered else None,
        "polls_median": sorted(polls)[len(polls) // 2] if polls else None,
        "polls_max": max(polls) if polls else None,
        "failures": failures,
    }
