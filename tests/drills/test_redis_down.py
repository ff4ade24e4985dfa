"""Drill: Redis (cache and Celery broker) goes down.

Pages, a kill-switch flip and the gateway policy must keep working, none of them a 500, and work
queued while the broker was down must run once it is back.
"""

import importlib
import time
from contextlib import contextmanager

import pytest
import yaml
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import Resolver404, resolve
from rest_framework.authtoken.models import Token

from changemgmt.audit.models import Notification, NotificationStatus
from changemgmt.celery import app as celery_app
from tests.conftest import reset_celery_connections

pytestmark = pytest.mark.drill

PAGES = ["/", "/tickets/", "/tickets/cab/", "/kill-switches/", "/calendar/", "/audit/"]
SLOW_SECONDS = 10  # a request that waits on a dead Redis for longer than this is an outage


@contextmanager
def celery_broker(url):
    """Point the Celery app (configured once from settings) at `url` for the block."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.broker_transport_options
    conf.broker_url = url
    conf.broker_transport_options = {"visibility_timeout": 3600}
    reset_celery_connections()
    try:
        yield
    finally:
        conf.broker_url, conf.broker_transport_options = saved
        reset_celery_connections()


@pytest.fixture
def drill_world(settings, throwaway_redis, webhook_receiver, fast_passwords, transactional_db):
    settings.CACHES = {
        "default": {
            "BACKEND": "changemgmt.web.cache.TolerantRedisCache",
            "LOCATION": throwaway_redis.url,
            "KEY_PREFIX": "drill",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.NOTIFY_WEBHOOK_URL = webhook_receiver.url
    with celery_broker(throwaway_redis.url):
        call_command("seed_demo", password="drill-password-0", stdout=open("/dev/null", "w"))  # noqa: SIM115
        yield throwaway_redis, webhook_receiver


def api_client(username):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")


def timed(call, *args, **kwargs):
    started = time.monotonic()
    response = call(*args, **kwargs)
    return response, time.monotonic() - started


def existing(paths):
    found = []
    for path in paths:
        try:
            resolve(path)
        except Resolver404:
            continue
        found.append(path)
    return found


def flip(engaged, reason):
    return api_client("platform_team").post(
        "/api/v1/kill-switches/feature/support-assistant/flip/",
        {"engaged": engaged, "reason": reason},
        content_type="application/json",
    )


def sent(notification) -> bool:
    notification.refresh_from_db()
    return notification.webhook_status == NotificationStatus.SENT


def delivered_ids(webhook) -> set[int]:
    return {body.get("id") for body in list(webhook.received)}


def policy_shows_support_assistant_engaged(client):
    yaml_doc = client.get("/gateway-policies/kill-switches.yaml")
    assert yaml_doc.status_code == 200, yaml_doc.content[:300]
    switches = yaml.safe_load(yaml_doc.content)["feature_kill_switches"]
    return switches["support-assistant"]["enabled"] is False


def test_it_keeps_pages_flips_and_the_gateway_policy_working_while_redis_is_down(
    drill_world, django_capture_on_commit_callbacks
):
    redis, _ = drill_world
    browser = Client()
    browser.login(username="release_manager", password="drill-password-0")
    gateway = api_client("gateway")
    pages = existing(PAGES)
    for path in pages:  # warm: everything works, and the cache holds the policy document
        assert browser.get(path).status_code == 200, path
    assert gateway.get("/api/v1/gateway-policy").status_code == 200

    redis.kill()

    for path in pages:
        response, took = timed(browser.get, path)
        assert response.status_code == 200, f"{path} answered {response.status_code}"
        assert took < SLOW_SECONDS, f"{path} took {took:.1f}s with Redis down"
    with django_capture_on_commit_callbacks(execute=True):
        response, took = timed(flip, True, "drill: Redis down, switch still flips")
    assert response.status_code == 200, response.content[:500]
    assert response.json()["changed"] is True
    assert took < SLOW_SECONDS
    # The owners' email went out after commit, broker or no broker.
    assert any("support-assistant" in message.subject for message in mail.outbox)
    # The gateways see the flip at once, cache or no cache.
    assert policy_shows_support_assistant_engaged(gateway)
    json_doc = gateway.get("/api/v1/gateway-policy")
    assert json_doc.status_code == 200
    assert json_doc.json()["version"] == response.json()["version"]
    etag = json_doc["ETag"]
    assert gateway.get("/api/v1/gateway-policy", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_it_runs_work_queued_during_the_outage_once_redis_is_back(
    drill_world, django_capture_on_commit_callbacks
):
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings

    redis, webhook = drill_world
    redis.kill()
    with django_capture_on_commit_callbacks(execute=True):
        response = flip(True, "drill: flipped while Redis is down")
    assert response.status_code == 200
    notification = Notification.objects.filter(event="killswitch.flipped").latest("pk")

    redis.start()
    # Once the broker is back, beat's sweepers run as they do every few minutes; a worker takes
    # whatever they (or anything else) queued.
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        module, _, name = entry["task"].rpartition(".")
        getattr(importlib.import_module(module), name).delay()
    with start_worker(
        celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not sent(notification):
            time.sleep(0.2)
    assert notification.pk in delivered_ids(webhook), (
        f"not delivered; webhook is {notification.webhook_status}; got {delivered_ids(webhook)}"
    )
    assert notification.webhook_status == NotificationStatus.SENT
