"""A reference AI gateway: `python -m changemgmt_gateway.reference` (started by `make run`).

It does what a real gateway does with the package — polls, verifies, acks as its gateway id and
decides per request — in front of a fake model: `POST /v1/chat` with
`{"feature": ..., "tenant": ..., "user": ..., "region": ..., "segment": ..., "cohort": ...,
"model": ..., "message": ...}` answers from the fake model, or with the feature's fallback when a
switch says so. `GET /healthz` is the client's status().

Credentials: `--token` (or CHANGEMGMT_GATEWAY_TOKEN), else a token for `--username` / `--password`
(DEMO_PASSWORD) from `POST /api/v1/auth/token/`. The public key: `--public-key FILE`; without it the
demo pins the key it first fetches into the cache directory (trust on first use — a production
gateway is given its key out of band).
"""

import argparse
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .client import PolicyClient, PolicyUnavailable

log = logging.getLogger("changemgmt_gateway.reference")
CONTEXT_KEYS = ("tenant", "user", "region", "segment", "cohort")


def fake_model(model: str | None, prompt_version: str | None, message: str) -> str:
    return f"[{model or 'default-model'} · {prompt_version or 'default-prompt'}] echo: {message}"


def answer(client: PolicyClient, request: dict) -> tuple[int, dict]:
    feature = request.get("feature")
    if not isinstance(feature, str) or not feature:
        return 400, {"detail": 'Give the feature: {"feature": "support-assistant", ...}.'}
    context = {k: (None if request.get(k) is None else str(request[k])) for k in CONTEXT_KEYS}
    try:
        snapshot = client.snapshot
    except PolicyUnavailable as exc:
        # The caller's safe default: this gateway never answers from "no policy".
        return 503, {"detail": f"No verified gateway policy yet: {exc}", "served_by": "none"}
    decision = snapshot.decide(feature, **context)
    body = {
        "feature": feature,
        "policy_version": decision.version,
        "route": decision.route,
        "change_id": decision.change_id,
        "reasons": list(decision.reasons),
    }
    model, prompt_version = decision.model, decision.prompt_version
    if decision.ai_enabled and model is None and request.get("model"):
        # The policy does not know this feature's model: the caller's, after its switch.
        model, chain = snapshot.resolve_model(
            str(request["model"]), tenant=context["tenant"], user=context["user"]
        )
        body["reasons"] += list(chain)
        if model is None:  # its fallback chain cycles: no model may serve
            body.update(served_by="fallback", fallback=decision.fallback, answer=decision.fallback)
            return 200, body
    if not decision.ai_enabled:
        body.update(served_by="fallback", fallback=decision.fallback, answer=decision.fallback)
        return 200, body
    message = str(request.get("message", ""))[:2000]
    body.update(
        served_by="model",
        model=model,
        prompt_version=prompt_version,
        answer=fake_model(model, prompt_version, message),
    )
    return 200, body


def make_server(client: PolicyClient, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "changemgmt-reference-gateway"

        def log_message(self, fmt, *args):
            log.info("%s %s", self.address_string(), fmt % args)

        def _reply(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path != "/healthz":
                return self._reply(404, {"detail": "Try POST /v1/chat or GET /healthz."})
            status = client.status()
            return self._reply(200 if status["version"] is not None else 503, status)

        def do_POST(self):
            if self.path != "/v1/chat":
                return self._reply(404, {"detail": "Try POST /v1/chat."})
            try:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(min(length, 65536)) or b"{}")
            except ValueError:
                return self._reply(400, {"detail": "The body must be a JSON object."})
            if not isinstance(request, dict):
                return self._reply(400, {"detail": "The body must be a JSON object."})
            return self._reply(*answer(client, request))

    return ThreadingHTTPServer((host, port), Handler)


def _post_json(url: str, payload: dict, timeout: float = 5.0) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _get_text(url: str, token: str, timeout: float = 5.0) -> str:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode()


def credentials(args, wait: float) -> tuple[str, str]:
    """(token, public key PEM), waiting up to `wait` seconds for the server to come up."""
    deadline = time.monotonic() + wait
    pinned = Path(args.public_key or Path(args.cache_dir) / "public-key.pem")
    while True:
        try:
            token = (
                args.token
                or _post_json(
                    f"{args.server}/api/v1/auth/token/",
                    {"username": args.username, "password": args.password},
                )["token"]
            )
            if not pinned.exists():
                pinned.parent.mkdir(parents=True, exist_ok=True)
                pinned.write_text(_get_text(f"{args.server}/gateway-policies/public-key", token))
                log.warning("pinned the server's public key on first use: %s", pinned)
            return token, pinned.read_text()
        except (OSError, KeyError, ValueError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"reference gateway: cannot reach {args.server}: {exc}") from exc
            time.sleep(1)  # the web server of `make run` starts beside us


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--server", default=env("CHANGEMGMT_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--listen", default=env("GATEWAY_LISTEN", "127.0.0.1:8100"))
    parser.add_argument("--gateway-id", default=env("GATEWAY_ID", "gw-demo-1"))
    parser.add_argument("--token", default=env("CHANGEMGMT_GATEWAY_TOKEN"))
    parser.add_argument("--username", default=env("GATEWAY_USERNAME", "gateway"))
    parser.add_argument("--password", default=env("DEMO_PASSWORD"))
    parser.add_argument("--public-key", default=env("GATEWAY_PUBLIC_KEY"))
    parser.add_argument("--cache-dir", default=env("GATEWAY_CACHE_DIR", "var/gateway"))
    parser.add_argument("--interval", type=float, default=float(env("GATEWAY_INTERVAL", "1")))
    parser.add_argument("--wait", type=float, default=120.0, help="Seconds to wait for the server.")
    args = parser.parse_args(argv)
    args.server = args.server.rstrip("/")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s gateway %(message)s")
    if not args.token and not args.password:
        parser.error("give --token (CHANGEMGMT_GATEWAY_TOKEN) or --password (DEMO_PASSWORD)")
    token, public_key = credentials(args, args.wait)
    client = PolicyClient(
        args.server,
        token,
        public_key,
        gateway_id=args.gateway_id,
        cache_dir=args.cache_dir,
        interval=args.interval,
    )
    client.refresh()
    client.start()
    host, _, port = args.listen.rpartition(":")
    server = make_server(client, host or "127.0.0.1", int(port))
    log.info("%s serving POST http://%s/v1/chat (policy v%s)", args.gateway_id, args.listen,
             client.version)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        client.stop()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
