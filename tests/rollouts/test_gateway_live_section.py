"""The policy names what is live (issue 13.4), and the JSON it serves is the client spec's shape:
it validates against clients/spec/policy.schema.json."""

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from changemgmt.killswitches import policy
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

SPEC = Path(__file__).resolve().parents[2] / "clients" / "spec"
SCHEMA = json.loads((SPEC / "policy.schema.json").read_text())


def served_json() -> dict:
    policy.policy_bump("test")
    return json.loads(policy.ensure_document().json)


def deployed(feature, change_id, *, prompt="", model="", at, rolled_back=False, state="deployed"):
    return TicketFactory(
        feature=feature, change_id=change_id, state=state, prompt_version=prompt,
        candidate_model=model, deployed_at=at, rolled_back_at=at if rolled_back else None,
    )  # fmt: skip


def test_it_names_the_deployed_prompt_model_and_change_per_feature(support_assistant):
    deployed(support_assistant, "CHG-2027-00001", prompt="support-assistant@40",
             model="bedrock.anthropic.claude-haiku-4-5", at=datetime(2027, 1, 5, tzinfo=UTC),
             state="closed")  # fmt: skip
    deployed(support_assistant, "CHG-2027-00002", prompt="support-assistant@41",
             at=datetime(2027, 1, 12, tzinfo=UTC))  # fmt: skip
    # Deployed, then rolled back: not live.
    deployed(support_assistant, "CHG-2027-00003", prompt="support-assistant@99",
             at=datetime(2027, 1, 19, tzinfo=UTC), rolled_back=True, state="rolled_back")  # fmt: skip
    live = served_json()["live"]["support-assistant"]
    assert live == {
        "prompt_version": "support-assistant@41",
        "model": "bedrock.anthropic.claude-haiku-4-5",  # a prompt change keeps the live model
        "change_id": "CHG-2027-00002",
        "deployed_at": "2027-01-12T00:00:00+00:00",
    }


def test_it_names_nulls_for_a_feature_nothing_was_deployed_to(support_assistant):
    assert served_json()["live"]["support-assistant"] == {
        "prompt_version": None, "model": None, "change_id": None, "deployed_at": None,
    }  # fmt: skip


def test_it_serves_json_that_validates_against_the_client_spec_schema(ramping_ticket):
    from tests.killswitches.factories import FeatureSwitchFactory, ModelSwitchFactory

    FeatureSwitchFactory(feature=ramping_ticket.feature)
    ModelSwitchFactory()
    document = served_json()
    jsonschema.validate(document, SCHEMA)
    assert [r["change_id"] for r in document["ramps"]] == [ramping_ticket.change_id]


def test_it_rejects_a_document_that_breaks_the_schema(ramping_ticket):
    document = served_json()
    document["ramps"][0]["traffic_percent"] = "ten"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, SCHEMA)


@pytest.mark.parametrize("name", ["decisions.json"])
def test_it_keeps_every_spec_vector_policy_in_the_schema(name):
    for suite in json.loads((SPEC / name).read_text())["suites"]:
        jsonschema.validate(suite["policy"], SCHEMA)


def test_it_names_the_instant_a_tenant_switch_lifts_in_the_policys_time_zone(window_policy):
    """The server lifts 'expires 2027-06-30' when that day ends in New York: the document says so,
    so a gateway applying the expiry itself agrees with the sweeper."""
    from datetime import date

    from tests.killswitches.factories import TenantSwitchFactory

    switch = TenantSwitchFactory(ai_disabled=True, expires=date(2027, 6, 30))
    document = served_json()
    entry = document["tenant_kill_switches"][switch.tenant.tenant_id]
    assert entry["expires"] == "2027-06-30"
    assert entry["expires_at"] == "2027-07-01T04:00:00+00:00"
    jsonschema.validate(document, SCHEMA)
