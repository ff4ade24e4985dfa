"""Every vector of clients/spec/: decisions, bucketing and signatures."""

from datetime import datetime

import pytest
from changemgmt_gateway import Snapshot, bucket
from changemgmt_gateway.bucketing import in_slice, threshold
from changemgmt_gateway.verify import PolicyRejected, load_public_key, verify
from conftest import spec

DECISIONS = spec("decisions.json")
BUCKETING = spec("bucketing.json")
SIGNATURES = spec("signatures.json")

DECISION_CASES = [
    pytest.param(suite["policy"], case, id=f"{suite['name']}: {case['name']}")
    for suite in DECISIONS["suites"]
    for case in suite["tests"]
]


@pytest.mark.parametrize(("policy", "case"), DECISION_CASES)
def test_it_decides_every_vector(policy, case):
    now = datetime.fromisoformat(case["now"].replace("Z", "+00:00")).timestamp()
    decision = Snapshot(policy).decide(case["feature"], now=now, **case["context"])
    assert decision.as_dict() == case["expected"]
    assert decision.version == policy["version"]


def test_it_has_vectors_for_every_rule():
    cases = [case for suite in DECISIONS["suites"] for case in suite["tests"]]
    reasons = {r.split(":")[0] for case in cases for r in case["expected"]["reasons"]}
    assert reasons >= {
        "tenant_switch", "tenant_switch_expired", "feature_switch", "exercise", "unknown_feature",
        "ramp_audience_out", "ramp_no_key", "ramp_bucket_in", "ramp_bucket_out", "no_ramp",
        "model_switch", "model_cycle",
    }  # fmt: skip


@pytest.mark.parametrize("case", BUCKETING["buckets"], ids=lambda c: f"{c['salt']}/{c['key']}")
def test_it_buckets_every_vector(case):
    assert bucket(case["salt"], case["key"]) == case["bucket"]


@pytest.mark.parametrize("case", BUCKETING["thresholds"], ids=lambda c: str(c["percent"]))
def test_it_turns_every_percentage_into_its_threshold(case):
    assert threshold(case["percent"]) == case["threshold"]


@pytest.mark.parametrize("case", BUCKETING["slices"], ids=lambda c: f"{c['key']}@{c['percent']}")
def test_it_puts_every_vector_in_or_out_of_its_slice(case):
    assert in_slice(case["salt"], case["key"], case["percent"]) is case["in"]


@pytest.mark.parametrize("case", SIGNATURES["cases"], ids=lambda c: c["name"])
def test_it_verifies_or_refuses_every_signature_vector(case):
    key = load_public_key(SIGNATURES["public_key_pem"])
    if case["valid"]:
        verify(key, case["body"].encode(), case["signature"])
    else:
        with pytest.raises(PolicyRejected):
            verify(key, case["body"].encode(), case["signature"])


def test_it_computes_the_key_id_the_server_sends():
    from changemgmt_gateway.verify import key_id

    assert key_id(load_public_key(SIGNATURES["public_key_pem"])) == SIGNATURES["key_id"]
