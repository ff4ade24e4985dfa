"""Issue 12.4: the version is inside the signed bytes of both documents, so an old signed copy
cannot be replayed as the current policy."""

import json

import pytest
import yaml

from changemgmt.killswitches import signing
from changemgmt.killswitches.services import killswitch_flip

pytestmark = pytest.mark.django_db

YAML_URL = "/gateway-policies/kill-switches.yaml"
JSON_URL = "/api/v1/gateway-policy"


def get(client, url, token):
    return client.get(url, HTTP_AUTHORIZATION=f"Token {token}")


def flip(platform_team, engaged, captured):
    with captured(execute=True):
        killswitch_flip(
            "model", "openai.gpt-4o-2024-11", engaged=engaged, reason="drill",
            acting_user=platform_team,
        )  # fmt: skip


def test_it_puts_the_version_in_the_signed_yaml_as_a_comment_line_after_the_header(
    client, gateway_token, switches
):
    response = get(client, YAML_URL, gateway_token)
    lines = response.content.decode().splitlines()
    assert lines[0] == "# gateway-policies/kill-switches.yaml"
    assert lines[1] == f"# policy-version: {response['X-Policy-Version']}"
    assert signing.verify(
        signing.public_key_pem(), response.content, response["X-Policy-Signature"]
    )
    # A comment: YAML readers see the article's three sections and nothing else.
    assert set(yaml.safe_load(response.content)) == {
        "feature_kill_switches", "model_kill_switches", "tenant_kill_switches",
    }  # fmt: skip


def test_it_tells_an_old_signed_yaml_from_the_current_one_with_the_same_switches(
    client, gateway_token, switches, platform_team, django_capture_on_commit_callbacks
):
    """The reproduction: v1's signed YAML still verified after 20 flips, and nothing in it said it
    was v1. Flipping there and back gives the same switches; the signed bytes now differ."""
    old = get(client, YAML_URL, gateway_token)
    flip(platform_team, True, django_capture_on_commit_callbacks)
    flip(platform_team, False, django_capture_on_commit_callbacks)
    now = get(client, YAML_URL, gateway_token)
    assert int(now["X-Policy-Version"]) == int(old["X-Policy-Version"]) + 2
    assert now.content != old.content
    assert f"# policy-version: {old['X-Policy-Version']}\n".encode() in old.content
    # The replayed copy still verifies (it was signed) but names its own, older version.
    assert signing.verify(signing.public_key_pem(), old.content, old["X-Policy-Signature"])
    assert not signing.verify(signing.public_key_pem(), now.content, old["X-Policy-Signature"])


def test_it_puts_the_version_in_the_signed_json(client, gateway_token, switches):
    response = get(client, JSON_URL, gateway_token)
    assert json.loads(response.content)["version"] == int(response["X-Policy-Version"])
    assert signing.verify(
        signing.public_key_pem(), response.content, response["X-Policy-Signature"]
    )


def test_it_names_the_signing_key_on_the_documents_and_the_public_key(
    client, gateway_token, switches
):
    key = get(client, "/gateway-policies/public-key", gateway_token)
    assert key.content.decode().startswith("-----BEGIN PUBLIC KEY-----")
    assert key["X-Policy-Key-Id"] == signing.key_id()
    for url in (YAML_URL, JSON_URL):
        assert get(client, url, gateway_token)["X-Policy-Key-Id"] == signing.key_id()


def test_it_exports_the_yaml_for_editing_without_the_version_line(switches):
    from changemgmt.killswitches.document import render_yaml

    assert "policy-version" not in render_yaml()
    assert render_yaml(7).splitlines()[1] == "# policy-version: 7"
