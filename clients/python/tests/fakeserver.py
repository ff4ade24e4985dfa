"""A stand-in for changemgmt's policy endpoints, signing with the spec's test key: what the
client's unit tests poll (the end-to-end test in tests/gateway_client/ uses the real server)."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakePolicyServer:
    def __init__(self, private_key):
        self.private_key = private_key
        self.version = 0
        self.body = b""
        self.signature = ""
        self.tamper = None  # callable(body) -> body, applied after signing
        self.acks: list[dict] = []
        self.ack_status = 200
        self.requests: list[dict] = []
        self.publish(switches={"support-assistant": True})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def shutdown(self):
        self._server.shutdown()
        self._server.server_close()

    def publish(self, *, switches: dict, version: int | None = None, sign_with=None):
        self.version = self.version + 1 if version is None else version
        document = {
            "version": self.version,
            "feature_kill_switches": {
                slug: {"enabled": on, "fallback": "human-agent-queue"}
                for slug, on in switches.items()
            },
            "model_kill_switches": [],
            "tenant_kill_switches": {},
            "ramps": [],
            "live": {},
            "canary_exercises": [],
        }
        self.body = json.dumps(document, separators=(",", ":")).encode()
        key = sign_with or self.private_key
        self.signature = base64.b64encode(key.sign(self.body)).decode()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.requests.append(dict(self.headers))
                etag = f'"policy-v{fake.version}-json"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                body = fake.tamper(fake.body) if fake.tamper else fake.body
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("ETag", etag)
                self.send_header("X-Policy-Version", str(fake.version))
                if fake.signature:
                    self.send_header("X-Policy-Signature", fake.signature)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                fake.acks.append(json.loads(self.rfile.read(length)))
                self.send_response(fake.ack_status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

        return Handler
