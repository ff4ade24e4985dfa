"""PolicyClient against a stand-in server: verification, no downgrade, fail-static, acks."""

import json
import threading

import pytest
from changemgmt_gateway import PolicyClient, PolicyUnavailable
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fakeserver import FakePolicyServer


@pytest.fixture
def server(signing_key):
    with FakePolicyServer(signing_key[0]) as fake:
        yield fake


def client_for(server_or_url, public_pem, **kwargs):
    url = server_or_url if isinstance(server_or_url, str) else server_or_url.url
    return PolicyClient(url, "gw-token", public_pem, gateway_id="gw-eu-1", **kwargs)


def test_it_applies_a_signed_document_and_acks_it(server, signing_key):
    client = client_for(server, signing_key[1])
    assert client.refresh() is True
    assert client.version == 1
    assert client.decide("support-assistant").ai_enabled is True
    assert server.acks == [{"gateway": "gw-eu-1", "version": 1}]
    assert client.status()["acked_version"] == 1


def test_it_revalidates_with_if_none_match_and_applies_nothing_new(server, signing_key):
    client = client_for(server, signing_key[1])
    client.refresh()
    assert client.refresh() is False
    assert server.requests[-1]["If-None-Match"] == '"policy-v1-json"'
    assert len(server.acks) == 1  # the same version is acked once


def test_it_applies_a_flip_at_the_next_poll(server, signing_key):
    client = client_for(server, signing_key[1])
    client.refresh()
    server.publish(switches={"support-assistant": False})
    assert client.refresh() is True
    decision = client.decide("support-assistant")
    assert (decision.ai_enabled, decision.fallback) == (False, "human-agent-queue")
    assert server.acks[-1] == {"gateway": "gw-eu-1", "version": 2}


def test_it_refuses_a_body_with_one_byte_changed_and_keeps_the_last_good(server, signing_key):
    client = client_for(server, signing_key[1])
    client.refresh()
    server.publish(switches={"support-assistant": False})
    # The attacker turns the AI back on: "false" -> "fals " would not parse, so swap one byte of
    # the version instead; either way the signature no longer matches.
    server.tamper = lambda body: body.replace(b'"version":2', b'"version":3')
    assert client.refresh() is False
    assert client.version == 1
    assert client.decide("support-assistant").ai_enabled is True
    assert "signature does not match" in client.status()["last_error"]


@pytest.mark.parametrize("offset", [0, 10, -2])
def test_it_refuses_any_single_byte_change(server, signing_key, offset):
    client = client_for(server, signing_key[1])

    def flip_one_byte(body):
        changed = bytearray(body)
        changed[offset] ^= 0x01
        return bytes(changed)

    server.tamper = flip_one_byte
    assert client.refresh() is False
    with pytest.raises(PolicyUnavailable):
        client.decide("support-assistant")


def test_it_refuses_an_unsigned_document(server, signing_key):
    server.signature = ""
    client = client_for(server, signing_key[1])
    assert client.refresh() is False
    assert "unsigned" in client.status()["last_error"]
    assert server.acks == []


def test_it_refuses_a_document_signed_by_another_key(server, signing_key):
    server.publish(switches={"support-assistant": False}, sign_with=Ed25519PrivateKey.generate())
    client = client_for(server, signing_key[1])
    assert client.refresh() is False
    assert client.version is None


def test_it_refuses_a_downgrade(server, signing_key):
    client = client_for(server, signing_key[1])
    server.publish(switches={"support-assistant": False}, version=5)
    client.refresh()
    # A correctly signed but older document (a replay of v4, or a restored old database).
    server.publish(switches={"support-assistant": True}, version=4)
    assert client.refresh() is False
    assert client.version == 5
    assert client.decide("support-assistant").ai_enabled is False
    assert "older than the applied version 5" in client.status()["last_error"]


def test_it_refuses_a_version_header_that_disagrees_with_the_signed_body(server, signing_key):
    client = client_for(server, signing_key[1])
    server.version = 9  # the header (and ETag) say 9; the signed body says 1
    assert client.refresh() is False
    assert "does not match the signed version" in client.status()["last_error"]


def test_it_raises_policy_unavailable_before_any_verified_document(signing_key):
    client = client_for("http://127.0.0.1:9", signing_key[1], timeout=0.5)
    assert client.refresh() is False
    with pytest.raises(PolicyUnavailable):
        client.decide("support-assistant")
    assert client.status()["version"] is None
    assert client.status()["last_error"]


def test_it_boots_from_the_cache_with_the_server_down(server, signing_key, tmp_path):
    first = client_for(server, signing_key[1], cache_dir=tmp_path)
    server.publish(switches={"support-assistant": False})
    first.refresh()
    server.shutdown()

    restarted = client_for(server.url, signing_key[1], cache_dir=tmp_path, timeout=0.5)
    assert restarted.refresh() is False  # the server is down
    decision = restarted.decide("support-assistant")
    assert (decision.ai_enabled, decision.version) == (False, 2)
    assert restarted.status()["source"] == "cache"


def test_it_ignores_a_tampered_cache(server, signing_key, tmp_path):
    client_for(server, signing_key[1], cache_dir=tmp_path).refresh()
    cache = next(tmp_path.iterdir())
    stored = json.loads(cache.read_text())
    stored["body"] = stored["body"].replace('"enabled":true', '"enabled":false')
    cache.write_text(json.dumps(stored))
    server.shutdown()
    restarted = client_for(server.url, signing_key[1], cache_dir=tmp_path, timeout=0.5)
    with pytest.raises(PolicyUnavailable):
        restarted.decide("support-assistant")
    assert "cache not used" in restarted.status()["last_error"]


def test_it_keeps_polling_in_the_background_until_stopped(server, signing_key):
    client = client_for(server, signing_key[1], interval=0.05)
    applied = threading.Event()
    client.start()
    try:
        server.publish(switches={"support-assistant": False})
        for _ in range(200):
            if client.version == 2:
                applied.set()
                break
            applied.wait(0.02)
        assert applied.is_set()
        assert client.status()["polling"] is True
    finally:
        client.stop()
    assert client.status()["polling"] is False


def test_it_stops_retrying_an_ack_the_server_refuses(server, signing_key):
    server.ack_status = 403
    client = client_for(server, signing_key[1])
    client.refresh()
    client.refresh()
    assert len(server.acks) == 1
    assert "answered 403" in client.status()["last_error"]
