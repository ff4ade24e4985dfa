"""A real Prometheus server (Debian's `prometheus` package) for the tests, on a free port with its
TSDB in a temporary folder, scraping a tiny exporter that the test controls once a second.

    prometheus_server  (session): the server, started once; `.url`, `.query(text)`, `.wait_for`
    exporter           (per test): the series Prometheus scrapes; `.set(name, labels, value)`

Waiting for a scrape is waiting on another process, not on one of our rules: `wait_for` polls the
query API until the series shows the value the test exported (or fails after a timeout).
"""

import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from tests.drills.conftest import free_port, wait_for_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def label_value(text: str) -> str:
    """A label value in the text exposition format."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Exporter(http.server.ThreadingHTTPServer):
    def __init__(self):
        self.series: dict[tuple, float] = {}
        self.rendered = None
        self.lock = threading.Lock()
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def set(self, name: str, labels: dict, value: float):
        with self.lock:
            self.series[(name, tuple(sorted(labels.items())))] = value
            self.rendered = None

    def clear(self):
        with self.lock:
            self.series.clear()
            self.rendered = None

    def render(self) -> str:
        # Rendered once per change: a scrape of thousands of series (the bench) must not compete
        # for the GIL with the sweeper it measures, nor time out and leave the series stale.
        with self.lock:
            if self.rendered is None:
                lines = []
                for (name, labels), value in sorted(self.series.items()):
                    matchers = ",".join(f'{k}="{label_value(v)}"' for k, v in labels)
                    lines.append(f"{name}{{{matchers}}} {value!r}")
                self.rendered = "\n".join(lines) + "\n"
            return self.rendered


class PrometheusServer:
    def __init__(self, workdir, exporter_port: int, scrape_seconds: int = 1):
        self.port = free_port()
        self.workdir = workdir
        config = workdir / "prometheus.yml"
        config.write_text(
            f"global:\n  scrape_interval: {scrape_seconds}s\n  evaluation_interval: 1s\n"
            f"scrape_configs:\n  - job_name: canary\n    scrape_interval: {scrape_seconds}s\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
        )
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--query.lookback-delta=30s",
            ],
            stdout=open(workdir / "prometheus.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, up=True, timeout=60)
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("Prometheus did not become ready: " + self.log())

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text()[-3000:]

    def query(self, text: str) -> list:
        data = urllib.parse.urlencode({"query": text}).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/query", data=data, timeout=5) as response:
            return json.loads(response.read())["data"]["result"]

    def wait_for(self, text: str, value: float | None, timeout: float = 30):
        """Until `text` answers `value` (None: no series at all)."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.query(text)
            if value is None and not seen:
                return
            if value is not None and len(seen) == 1 and float(seen[0]["value"][1]) == value:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{text} answered {seen}, waited for {value}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def _exporter_server():
    server = Exporter()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def prometheus_server(_exporter_server, tmp_path_factory):
    if not shutil.which("prometheus") and not os.path.exists(PROMETHEUS):
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), _exporter_server.port)
    yield server
    server.stop()


@pytest.fixture
def exporter(_exporter_server, prometheus_server):
    _exporter_server.clear()
    yield _exporter_server
    _exporter_server.clear()
