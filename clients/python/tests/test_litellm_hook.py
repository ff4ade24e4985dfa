"""The LiteLLM hook, offline: LiteLLM's `mock_response` answers instead of a provider."""

import asyncio

import pytest
from changemgmt_gateway import PolicyClient, PolicyUnavailable
from policies import GPT, SA, SONNET, StaticClient, document

litellm = pytest.importorskip("litellm")
from changemgmt_gateway.litellm import ChangemgmtHook, FeatureDisabled  # noqa: E402

MESSAGES = [{"role": "user", "content": "Where is my claim?"}]


def router():
    deployments = [
        {"model_name": name, "litellm_params": {"model": f"openai/{name}", "api_key": "sk-test",
                                                 "mock_response": f"answer from {name}"}}
        for name in (GPT, SONNET, "bedrock.anthropic.claude-haiku-4-5")
    ]  # fmt: skip
    return litellm.Router(model_list=deployments)


def test_it_swaps_a_disabled_model_for_its_fallback_through_the_router(signing_key):
    hook = ChangemgmtHook(StaticClient(document(gpt_disabled=True), signing_key))
    completion = hook.guard(router().completion)
    reply = completion(model=GPT, messages=MESSAGES, metadata={"feature": SA, "user": "user-1"})
    assert reply.choices[0].message.content == f"answer from {SONNET}"


def test_it_leaves_an_enabled_model_alone(signing_key):
    hook = ChangemgmtHook(StaticClient(document(), signing_key))
    reply = hook.guard(router().completion)(
        model=GPT, messages=MESSAGES, metadata={"feature": SA, "user": "user-1"}
    )
    assert reply.choices[0].message.content == f"answer from {GPT}"


def test_it_sends_the_ramps_slice_to_the_candidate_model(signing_key):
    hook = ChangemgmtHook(
        StaticClient(document(ramp_model="bedrock.anthropic.claude-haiku-4-5"), signing_key)
    )
    completion = hook.guard(router().completion)
    inside = completion(model=GPT, messages=MESSAGES, metadata={"feature": SA, "user": "user-8"})
    outside = completion(model=GPT, messages=MESSAGES, metadata={"feature": SA, "user": "user-1"})
    assert inside.choices[0].message.content == "answer from bedrock.anthropic.claude-haiku-4-5"
    assert outside.choices[0].message.content == f"answer from {GPT}"


@pytest.mark.parametrize(
    ("doc", "metadata", "reason"),
    [
        (document(feature_on=False), {"feature": SA, "user": "u"}, f"feature_switch:{SA}"),
        (document(tenant_off="t-9"), {"feature": SA, "tenant": "t-9"}, "tenant_switch:t-9"),
    ],
)
def test_it_answers_a_switch_with_the_features_fallback_as_a_typed_error(
    signing_key, doc, metadata, reason
):
    completion = ChangemgmtHook(StaticClient(doc, signing_key)).guard(litellm.completion)
    with pytest.raises(FeatureDisabled) as refused:
        completion(model=f"openai/{GPT}", messages=MESSAGES, metadata=metadata,
                   mock_response="never sent", api_key="sk-test")  # fmt: skip
    assert refused.value.fallback == "human-agent-queue"
    assert reason in refused.value.reasons


def test_it_works_as_the_proxys_pre_call_hook(signing_key):
    hook = ChangemgmtHook(StaticClient(document(gpt_disabled=True), signing_key))
    data = {"model": GPT, "messages": MESSAGES, "metadata": {"feature": SA, "user": "user-1"}}
    changed = asyncio.run(hook.async_pre_call_hook(None, None, data, "completion"))
    assert changed["model"] == SONNET
    assert changed["metadata"]["changemgmt"]["reasons"][-1] == f"model_switch:{GPT}->{SONNET}"
    assert data["model"] == GPT  # the caller's dict is not mutated


def test_it_guards_async_completions_too(signing_key):
    hook = ChangemgmtHook(StaticClient(document(gpt_disabled=True), signing_key))
    reply = asyncio.run(
        hook.guard(router().acompletion)(
            model=GPT, messages=MESSAGES, metadata={"feature": SA, "user": "user-1"}
        )
    )
    assert reply.choices[0].message.content == f"answer from {SONNET}"


def test_it_refuses_to_guess_before_any_policy(signing_key):
    client = PolicyClient("http://127.0.0.1:9", "t", signing_key[1], gateway_id="gw-test")
    with pytest.raises(PolicyUnavailable):
        ChangemgmtHook(client).apply({"model": GPT, "metadata": {"feature": SA}})
