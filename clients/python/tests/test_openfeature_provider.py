"""The OpenFeature provider: `<feature>` is AI-enabled, `<feature>.route` the route."""

import pytest
from changemgmt_gateway import PolicyClient
from policies import SA, StaticClient, document

openfeature = pytest.importorskip("openfeature")
from changemgmt_gateway.openfeature import ChangemgmtProvider  # noqa: E402
from openfeature import api  # noqa: E402
from openfeature.evaluation_context import EvaluationContext  # noqa: E402
from openfeature.exception import ErrorCode  # noqa: E402
from openfeature.flag_evaluation import Reason  # noqa: E402


@pytest.fixture
def flags():
    def with_policy(client):
        api.set_provider(ChangemgmtProvider(client))
        return api.get_client()

    yield with_policy
    api.clear_providers()


def test_it_answers_ai_enabled_and_the_route_per_user(flags, signing_key):
    client = flags(StaticClient(document(), signing_key))
    inside = EvaluationContext(targeting_key="user-8", attributes={"region": "EU"})
    outside = EvaluationContext(targeting_key="user-1")
    assert client.get_boolean_value(SA, False, inside) is True
    assert client.get_string_value(f"{SA}.route", "baseline", inside) == "candidate"
    assert client.get_string_value(f"{SA}.route", "candidate", outside) == "baseline"
    details = client.get_string_details(f"{SA}.route", "baseline", inside)
    assert details.reason == Reason.SPLIT
    assert details.flag_metadata["change_id"] == "CHG-2026-00042"
    assert details.flag_metadata["prompt_version"] == "support-assistant@42"


def test_it_maps_the_tenant_attribute_to_the_tenant_switch(flags, signing_key):
    client = flags(StaticClient(document(tenant_off="t-9"), signing_key))
    off = client.get_boolean_details(SA, True, EvaluationContext(attributes={"tenant": "t-9"}))
    assert off.value is False
    assert off.flag_metadata["fallback"] == "human-agent-queue"
    assert off.flag_metadata["reasons"] == "tenant_switch:t-9"
    assert client.get_boolean_value(SA, False, EvaluationContext(attributes={"tenant": "t-1"}))


def test_it_answers_the_default_with_provider_not_ready_before_any_policy(flags, signing_key):
    client = flags(PolicyClient("http://127.0.0.1:9", "t", signing_key[1], gateway_id="gw"))
    details = client.get_boolean_details(SA, False)
    assert (details.value, details.error_code) == (False, ErrorCode.PROVIDER_NOT_READY)


def test_it_refuses_a_flag_of_the_wrong_type(flags, signing_key):
    client = flags(StaticClient(document(), signing_key))
    details = client.get_string_details(SA, "x")
    assert (details.value, details.error_code) == ("x", ErrorCode.TYPE_MISMATCH)
    assert client.get_integer_details(SA, 3).error_code == ErrorCode.TYPE_MISMATCH
