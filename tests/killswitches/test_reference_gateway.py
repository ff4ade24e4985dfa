"""The reference gateway (`make run`'s gateway process), end to end: a real server (live_server),
the gateway as its own process using changemgmt_gateway, a flip through the API, and the gateway
answering with the fallback and acking the flip's version."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from changemgmt.killswitches import signing
from changemgmt.killswitches.models import Gateway

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def until(check, timeout=30.0, what="the condition"):
    """Poll another process until `check()` is truthy (the gateway is its own process: there is
    no clock to move, only its next poll to wait for)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def demo(live_server, settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", password="gateway-e2e-pw", stdout=open("/dev/null", "w"))  # noqa: SIM115
    users = get_user_model().objects
    key = tmp_path / "public-key.pem"
    key.write_text(signing.public_key_pem())
    return {
        "gateway_token": Token.objects.create(user=users.get(username="gateway")).key,
        "platform_token": Token.objects.create(user=users.get(username="platform_team")).key,
        "key": key,
        "cache": tmp_path / "cache",
    }


@pytest.fixture
def gateway(live_server, demo):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "changemgmt_gateway.reference", "--server", live_server.url,
            "--token", demo["gateway_token"], "--public-key", str(demo["key"]),
            "--cache-dir", str(demo["cache"]), "--listen", f"127.0.0.1:{port}",
            "--interval", "0.2", "--gateway-id", "gw-demo-1",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def stop():
        if process.poll() is None:
            process.terminate()
            process.wait(10)

    try:
        until(lambda: urllib.request.urlopen(f"{url}/healthz", timeout=2).status == 200,
              what="the gateway to apply a policy")  # fmt: skip
        yield url, stop
    finally:
        stop()


def health(url) -> dict:
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
        return json.loads(response.read())


def test_it_answers_with_the_fallback_after_a_flip_and_acks_it(live_server, demo, gateway):
    # The test reads the database only once the gateway is stopped: on SQLite the live server's
    # in-memory database is shared with this thread, and a read beside a write would be refused.
    gateway, stop = gateway
    ask = {"feature": "support-assistant", "user": "u-1", "message": "Where is my claim?"}
    before = post(f"{gateway}/v1/chat", ask)
    assert before["served_by"] == "model"
    assert "echo: Where is my claim?" in before["answer"]

    flipped = post(
        f"{live_server.url}/api/v1/kill-switches/feature/support-assistant/flip/",
        {"engaged": True, "reason": "end-to-end drill"},
        token=demo["platform_token"],
    )
    after = until(
        lambda: (a := post(f"{gateway}/v1/chat", ask))["served_by"] == "fallback" and a,
        what="the fallback",
    )
    assert after["answer"] == after["fallback"] == "human-agent-queue"
    assert after["policy_version"] >= flipped["version"]
    assert "feature_switch:support-assistant" in after["reasons"]
    until(lambda: (health(gateway)["acked_version"] or 0) >= flipped["version"], what="the ack")
    stop()
    assert Gateway.objects.get(gateway_id="gw-demo-1").acked_version >= flipped["version"]


def test_it_is_listed_on_the_console_once_it_acks(live_server, demo, gateway, client):
    gateway, stop = gateway
    until(lambda: health(gateway)["acked_version"], what="an ack")
    stop()
    client.force_login(get_user_model().objects.get(username="auditor"))
    page = client.get("/kill-switches/").content.decode()
    assert 'data-gateway="gw-demo-1" data-level="green"' in page
