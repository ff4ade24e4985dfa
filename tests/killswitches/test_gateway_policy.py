import json

import pytest

from changemgmt.killswitches import policy, signing
from changemgmt.killswitches.services import killswitch_flip

pytestmark = pytest.mark.django_db

YAML_URL = "/gateway-policies/kill-switches.yaml"
JSON_URL = "/api/v1/gateway-policy"


def get(client, url, token, **headers):
    return client.get(url, HTTP_AUTHORIZATION=f"Token {token}", **headers)


def test_it_answers_401_to_anonymous_and_403_to_a_user_without_a_role(client, outsider, db):
    assert client.get(YAML_URL).status_code == 401
    assert client.get(JSON_URL).status_code == 401
    assert client.get("/gateway-policies/public-key").status_code == 401
    assert client.get(YAML_URL, HTTP_AUTHORIZATION="Token wrong").status_code == 401
    client.force_login(outsider)
    assert client.get(YAML_URL).status_code == 403


def test_it_serves_the_yaml_to_a_gateway_token_and_a_human_session(
    client, gateway_token, auditor, switches
):
    response = get(client, YAML_URL, gateway_token)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert "policy-search-v1:\n    enabled: true\n    fallback: keyword-search-v3" in response.text
    client.force_login(auditor)
    assert client.get(YAML_URL).status_code == 200


def test_it_answers_304_to_a_matching_etag_and_shows_a_flip_in_the_next_request(
    client, gateway_token, switches, platform_team, django_capture_on_commit_callbacks
):
    first = get(client, YAML_URL, gateway_token)
    etag = first["ETag"]
    again = get(client, YAML_URL, gateway_token, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag
    with django_capture_on_commit_callbacks(execute=True):
        killswitch_flip(
            "model",
            "openai.gpt-4o-2024-11",
            engaged=True,
            reason="outage",
            acting_user=platform_team,
        )
    after = get(client, YAML_URL, gateway_token, HTTP_IF_NONE_MATCH=etag)
    assert after.status_code == 200
    assert after["ETag"] != etag
    assert "- model: openai.gpt-4o-2024-11\n    disabled: true" in after.text
    assert int(after["X-Policy-Version"]) == int(first["X-Policy-Version"]) + 1


def test_it_shows_a_flip_even_when_the_after_commit_build_did_not_run(
    client, gateway_token, switches, platform_team
):
    get(client, YAML_URL, gateway_token)
    # No on-commit callbacks here: the first reader of the new version builds it.
    killswitch_flip(
        "feature", "policy-search-v1", engaged=True, reason="x", acting_user=platform_team
    )
    response = get(client, YAML_URL, gateway_token)
    assert "policy-search-v1:\n    enabled: false" in response.text


def test_it_signs_the_exact_body_and_a_tampered_body_fails(client, gateway_token, switches):
    key = get(client, "/gateway-policies/public-key", gateway_token).text
    assert key.startswith("-----BEGIN PUBLIC KEY-----")
    for url in (YAML_URL, JSON_URL):
        response = get(client, url, gateway_token)
        signature = response["X-Policy-Signature"]
        assert signing.verify(key, response.content, signature)
        tampered = response.content.replace(b"true", b"false", 1)
        assert not signing.verify(key, tampered, signature)


def test_it_serves_json_with_the_same_switches_and_the_sections(client, gateway_token, switches):
    policy.policy_bump("x")
    response = get(client, JSON_URL, gateway_token)
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["version"] == 1 == int(response["X-Policy-Version"])
    assert body["feature_kill_switches"]["policy-search-v1"] == {
        "enabled": True,
        "fallback": "keyword-search-v3",
    }
    assert body["model_kill_switches"][0]["fallback_model"] == "anthropic.claude-sonnet-4-5"
    assert body["tenant_kill_switches"]["enterprise-tenant-12891"]["ai_disabled"] is False
    assert "canary_exercises" in body
    assert (
        get(client, JSON_URL, gateway_token, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    )


def test_it_keeps_the_version_monotonic_across_flips(switches, platform_team, support_eng):
    seen = [policy.current_version()]
    for engaged in (True, False, True):
        killswitch_flip(
            "model", "openai.gpt-4o-2024-11", engaged=engaged, reason="r", acting_user=platform_team
        )
        seen.append(policy.current_version())
        killswitch_flip(
            "tenant",
            "enterprise-tenant-12891",
            engaged=engaged,
            reason="r",
            acting_user=support_eng,
        )
        seen.append(policy.current_version())
    assert seen == sorted(set(seen))
    assert seen[-1] == 6


def test_it_signs_with_the_configured_key(settings, client, gateway_token, switches):
    policy.policy_bump("before the key is configured")
    policy.served()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    settings.GATEWAY_SIGNING_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert get(client, "/gateway-policies/public-key", gateway_token).text == public
    # The document of the current version was signed with the old key: it is re-signed, not
    # served with a signature gateways would reject.
    response = get(client, YAML_URL, gateway_token)
    assert signing.verify(public, response.content, response["X-Policy-Signature"])
    policy.policy_bump("new key")
    response = get(client, YAML_URL, gateway_token)
    assert signing.verify(public, response.content, response["X-Policy-Signature"])


def test_it_answers_a_gateway_poll_with_one_query(
    client, gateway_token, switches, django_assert_num_queries
):
    first = get(client, YAML_URL, gateway_token)  # builds and memoises the document
    policy.policy_bump("x")
    get(client, YAML_URL, gateway_token)
    with django_assert_num_queries(1):
        again = get(client, YAML_URL, gateway_token)
    assert again.status_code == 200
    with django_assert_num_queries(1):
        not_modified = get(client, YAML_URL, gateway_token, HTTP_IF_NONE_MATCH=again["ETag"])
    assert not_modified.status_code == 304
    assert first["ETag"] != again["ETag"]
