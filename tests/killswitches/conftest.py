import os
import uuid

import pytest
from rest_framework.authtoken.models import Token

from tests.factories import FeatureFactory, ModelFactory, TeamFactory, TenantFactory

from .factories import FeatureSwitchFactory, ModelSwitchFactory, TenantSwitchFactory


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Persona users are created in nearly every test here: PBKDF2 would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def search_team(db, feature_owner):
    team = TeamFactory(slug="search", name="Search")
    team.members.add(feature_owner)
    return team


@pytest.fixture
def feature_switch(search_team):
    feature = FeatureFactory(
        slug="policy-search-v1",
        owner_team=search_team,
        users_served=4_000_000,
        fallback="keyword-search-v3",
    )
    return FeatureSwitchFactory(feature=feature, fallback="keyword-search-v3")


@pytest.fixture
def model_switch(db):
    return ModelSwitchFactory(
        model=ModelFactory(model_id="openai.gpt-4o-2024-11", provider="openai"),
        fallback_model=ModelFactory(model_id="anthropic.claude-sonnet-4-5", provider="anthropic"),
    )


@pytest.fixture
def tenant_switch(db):
    return TenantSwitchFactory(tenant=TenantFactory(tenant_id="enterprise-tenant-12891"))


@pytest.fixture
def switches(feature_switch, model_switch, tenant_switch):
    return {"feature": feature_switch, "model": model_switch, "tenant": tenant_switch}


@pytest.fixture
def gateway_token(gateway):
    return Token.objects.create(user=gateway).key


@pytest.fixture
def redis_cache(settings):
    """The default cache on the REDIS_URL server, under a prefix of this test's own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"test-ks-{uuid.uuid4().hex}",
        }
    }
    # No cache.clear() afterwards: that flushes the whole Redis DB (the Celery broker too). The
    # keys carry this test's prefix and expire within a minute.


@pytest.fixture
def gateway_names(gateway):
    """gw-eu-1 and gw-us-1, bound to the gateway persona: the names its token may ack for."""
    from changemgmt.audit.recording import system_user
    from changemgmt.killswitches.services import gateway_bind

    return [
        gateway_bind(gateway_id=name, account=gateway, acting_user=system_user())
        for name in ("gw-eu-1", "gw-us-1")
    ]


@pytest.fixture
def redis_trusted(monkeypatch):
    """Redis's word is taken without the database check every FRESH_SECONDS (hotpath.py), for
    tests of what Redis and the mirror answer, however slow the machine runs them."""
    from changemgmt.killswitches import hotpath

    monkeypatch.setattr(hotpath, "FRESH_SECONDS", float("inf"))
