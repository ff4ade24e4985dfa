"""Hypothesis fuzz of the documents gateways poll (plain Django views, outside the OpenAPI schema
that schemathesis walks): any method, credentials, ETag and Accept header get a clear answer,
never a 500, and whatever body is served is the signed one."""

import io

import pytest
from django.core.management import call_command
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from changemgmt.killswitches import signing

FUZZ_SETTINGS = settings(
    max_examples=80,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
DOCUMENTS = ["/api/v1/gateway-policy", "/gateway-policies/kill-switches.yaml"]
ANSWERS = {200, 304, 401, 403, 405}


@pytest.fixture
def tokens(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", password="fuzz-password-0", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    return {
        name: Token.objects.get_or_create(user=users.get(username=name))[0].key
        for name in ("gateway", "author")
    }


header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)


@FUZZ_SETTINGS
@given(data=st.data())
def test_it_answers_any_poll_with_a_clear_status_and_only_signed_bytes(tokens, data):
    path = data.draw(st.sampled_from([*DOCUMENTS, "/gateway-policies/public-key"]))
    method = data.draw(st.sampled_from(["get", "head", "post", "put", "delete", "options"]))
    who = data.draw(st.sampled_from(["gateway", "author", "garbage", "none"]))
    headers = {}
    if who in tokens:
        scheme = data.draw(st.sampled_from(["Token", "token", "TOKEN", "Bearer"]))
        headers["HTTP_AUTHORIZATION"] = f"{scheme} {tokens[who]}"
    elif who == "garbage":
        headers["HTTP_AUTHORIZATION"] = data.draw(header_text)
    if data.draw(st.booleans()):
        headers["HTTP_IF_NONE_MATCH"] = data.draw(
            st.one_of(header_text, st.just("*"), st.just('W/"v1-json", "junk"'))
        )
    if data.draw(st.booleans()):
        headers["HTTP_ACCEPT"] = data.draw(st.one_of(header_text, st.just("text/html")))

    response = getattr(Client(), method)(path, **headers)

    event(f"{method} {response.status_code}")
    assert response.status_code in ANSWERS, (method, path, headers, response.status_code)
    if method in ("post", "put", "delete", "options"):
        assert response.status_code in (401, 403, 405)
    if response.status_code == 200 and method == "get" and path in DOCUMENTS:
        assert signing.verify(
            signing.public_key_pem(), response.content, response["X-Policy-Signature"]
        )
        assert response["ETag"] and response["X-Policy-Version"].isdigit()
    if response.status_code == 304:
        assert response.content == b""
