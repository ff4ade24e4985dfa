"""The Redis fast path of the gateway poll (runs when REDIS_URL is set, as in CI)."""

import os
import uuid

import pytest

from changemgmt.killswitches import hotpath, policy
from changemgmt.killswitches.services import killswitch_flip

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)"),
]

YAML_URL = "/gateway-policies/kill-switches.yaml"


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-ks-{uuid.uuid4().hex}",
        }
    }
    # No cache.clear() afterwards: that flushes the whole Redis DB (the Celery broker too). The
    # keys carry this test's prefix and expire within a minute.


def get(client, token, **headers):
    return client.get(YAML_URL, HTTP_AUTHORIZATION=f"Token {token}", **headers)


def test_it_answers_a_warm_poll_without_the_database(
    redis_cache, client, gateway_token, switches, django_assert_num_queries
):
    policy.policy_bump("x")
    first = get(client, gateway_token)  # fills Redis and builds the document
    assert first.status_code == 200
    with django_assert_num_queries(0):
        assert get(client, gateway_token, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
        assert get(client, gateway_token).status_code == 200


def test_it_shows_a_flip_in_the_next_request(
    redis_cache, client, gateway_token, switches, platform_team, django_capture_on_commit_callbacks
):
    policy.policy_bump("x")
    etag = get(client, gateway_token)["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        killswitch_flip(
            "model", "openai.gpt-4o-2024-11", engaged=True, reason="r", acting_user=platform_team
        )
    response = get(client, gateway_token, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert "disabled: true" in response.text


def test_it_never_moves_the_published_version_backwards(redis_cache, gateway_token):
    from django.core.cache import cache

    hotpath.publish((5, "b"))
    hotpath.publish((4, "a"))  # a late writer
    client = cache._cache.get_client(write=True)
    assert client.get(cache.make_and_validate_key(hotpath.VERSION_KEY)) == b"5:b"


def test_it_forgets_a_deleted_token_at_once(redis_cache, client, gateway_token, switches):
    from rest_framework.authtoken.models import Token

    policy.policy_bump("x")
    assert get(client, gateway_token).status_code == 200
    Token.objects.filter(key=gateway_token).get().delete()
    assert get(client, gateway_token).status_code == 401
