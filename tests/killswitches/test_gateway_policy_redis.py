"""The Redis fast path of the gateway poll (runs when REDIS_URL is set, as in CI)."""

import os

import pytest

from changemgmt.killswitches import hotpath, policy
from changemgmt.killswitches.services import killswitch_flip

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)"),
]

YAML_URL = "/gateway-policies/kill-switches.yaml"


def bump_and_publish():
    """Bump the version and run what follows the commit (render, publish)."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        policy.policy_bump("x")


def get(client, token, **headers):
    return client.get(YAML_URL, HTTP_AUTHORIZATION=f"Token {token}", **headers)


def test_it_answers_a_warm_poll_without_the_database(
    redis_cache, redis_trusted, client, gateway_token, switches, django_assert_num_queries
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


def test_it_forgets_a_deleted_token_at_once(
    redis_cache, client, gateway_token, switches, django_capture_on_commit_callbacks
):
    from rest_framework.authtoken.models import Token

    policy.policy_bump("x")
    assert get(client, gateway_token).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        Token.objects.filter(key=gateway_token).get().delete()
    assert get(client, gateway_token).status_code == 401


def test_it_lets_no_poll_write_back_the_roles_of_a_token_just_forgotten(
    redis_cache, gateway_token, switches, django_capture_on_commit_callbacks
):
    """A poll read the token's rows just before the delete committed, and writes them late."""
    from rest_framework.authtoken.models import Token

    policy.policy_bump("x")
    hot = hotpath._hot()
    token_key = hot.token_key(gateway_token)
    with django_capture_on_commit_callbacks(execute=True):
        Token.objects.filter(key=gateway_token).get().delete()
    late = hot.client.eval(
        hotpath._SET_UNLESS_FORGOTTEN, 2, token_key, token_key + ":forgotten", "gateway", 60
    )
    assert late == 0
    assert hot.client.get(token_key) is None
    assert hotpath.token_caller(gateway_token) == (None, None)


def test_it_republishes_before_the_next_poll_when_a_publish_failed(
    redis_cache, gateway_token, switches, monkeypatch
):
    from redis.exceptions import ConnectionError as RedisConnectionError

    policy.policy_bump("x")
    roles, (before, _) = hotpath.token_caller(gateway_token)
    hot = hotpath._hot()
    real_eval = hot.client.eval

    def unreachable(script, *args):  # stands in for a network blip: Redis keeps the old version
        if script == hotpath._SET_IF_GREATER:
            raise RedisConnectionError("Redis unreachable for a moment")
        return real_eval(script, *args)

    monkeypatch.setattr(hot.client, "eval", unreachable)
    bump_and_publish()
    assert hot.client.get(hot.version_key).startswith(f"{before}:".encode())  # stale in Redis
    monkeypatch.setattr(hot.client, "eval", real_eval)
    assert hotpath.token_caller(gateway_token)[1][0] == before + 1


def test_it_drops_a_gateway_role_at_once_when_the_user_leaves_the_group(
    redis_cache, client, gateway_token, switches, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    policy.policy_bump("x")
    assert get(client, gateway_token).status_code == 200  # roles now cached
    user = Token.objects.get(key=gateway_token).user
    with django_capture_on_commit_callbacks(execute=True):
        user.groups.remove(Group.objects.get(name="gateway"))
    response = get(client, gateway_token)
    assert response.status_code == 403, response.content
    with django_capture_on_commit_callbacks(execute=True):
        Group.objects.get(name="gateway").user_set.add(user)
    assert get(client, gateway_token).status_code == 200


def test_it_refuses_a_deactivated_users_token_at_once(
    redis_cache, client, gateway_token, switches, django_capture_on_commit_callbacks
):
    from rest_framework.authtoken.models import Token

    policy.policy_bump("x")
    assert get(client, gateway_token).status_code == 200
    user = Token.objects.get(key=gateway_token).user
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()
    assert get(client, gateway_token).status_code == 401


def test_it_keeps_the_cached_roles_when_a_login_only_stamps_last_login(
    redis_cache, client, gateway_token, switches, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import update_last_login
    from rest_framework.authtoken.models import Token

    policy.policy_bump("x")
    assert get(client, gateway_token).status_code == 200
    hot = hotpath._hot()
    token_key = hot.token_key(gateway_token)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        update_last_login(None, Token.objects.get(key=gateway_token).user)
    assert callbacks == []
    assert hot.client.get(token_key) is not None
