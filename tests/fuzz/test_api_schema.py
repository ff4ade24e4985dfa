"""schemathesis over every operation of the OpenAPI schema: no 500, every answer as the schema says.

The schema is the one /api/schema/ serves (drf-spectacular, generated at collection so every
operation is its own test). The API runs in-process (WSGI), authenticated with the token of an
account holding every human role, against the demo world plus one draft ticket whose change ID
fills `{change_id}`. Both valid (positive) and invalid (negative) inputs are generated.
"""

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from changemgmt import roles
from changemgmt.catalog.models import AIFeature
from changemgmt.wsgi import application
from tests.factories import TicketFactory, UserFactory

SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
SCHEMA.app = application
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}
EXAMPLES_PER_OPERATION = 12

KNOWN_KEYS = {
    "feature": "support-assistant",
    "model": "openai.gpt-4o-2024-11",
    "tenant": "enterprise-tenant-12891",
}


@pytest.fixture
def fuzz_world(db, settings, monkeypatch):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", password="fuzz-password-0", stdout=open("/dev/null", "w"))  # noqa: SIM115
    everyone = UserFactory(
        username="fuzzer", roles=[r for r in roles.ALL_ROLES if r != roles.GATEWAY]
    )
    ticket = TicketFactory(feature=AIFeature.objects.get(slug="support-assistant"), author=everyone)
    token = Token.objects.create(user=everyone)
    # The WSGI app fires request_started/finished, whose close_old_connections would close the
    # test's transaction-wrapped connection on PostgreSQL; Django's own test Client unhooks it too.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    # The gateway polls' fast path runs the same hygiene itself, ahead of Django's signals.
    monkeypatch.setattr("changemgmt.killswitches.gateway_wsgi.close_old_connections", lambda: None)
    try:
        yield {"auth": {"Authorization": f"Token {token.key}"}, "ticket": ticket}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_it_found_the_api_operations():
    assert any("/api/v1/changes/" in label for label in OPERATIONS), sorted(OPERATIONS)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_it_never_answers_500_and_always_matches_its_schema(label, fuzz_world):
    operation = OPERATIONS[label]
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        params = case.path_parameters or {}
        if "change_id" in params:
            params["change_id"] = fuzz_world["ticket"].change_id
        if params.get("layer") in KNOWN_KEYS:
            params["key"] = KNOWN_KEYS[params["layer"]]
        case.call_and_validate(
            headers=fuzz_world["auth"], checks=[not_a_server_error, response_schema_conformance]
        )

    run()
