"""A flip's document reuses the registered sections (ramps, live, canary exercises) of the last
document built since a bump that could change them: with 1,000 ramps, rendering the ramps was
~200 ms of every flip, and a flip cannot change them."""

import json

import pytest

from changemgmt.killswitches import policy
from changemgmt.killswitches.models import PolicyDocument, PolicyVersion
from changemgmt.killswitches.services import killswitch_flip

pytestmark = pytest.mark.django_db(transaction=True)


def document(version):
    return json.loads(PolicyDocument.objects.get(version=version).json_text)


@pytest.fixture
def counted(monkeypatch):
    """Every registered section, counting how often it is built."""
    calls = {name: 0 for name in policy._sections}
    for name, build in list(policy._sections.items()):

        def counting(name=name, build=build):
            calls[name] += 1
            return build()

        monkeypatch.setitem(policy._sections, name, counting)
    return calls


def flip(platform_team, engaged):
    return killswitch_flip(
        "feature", "policy-search-v1", engaged=engaged, reason="drill", acting_user=platform_team
    ).version


def test_a_flip_reuses_the_sections_and_shows_its_switch(platform_team, switches, counted):
    policy.policy_bump("a ramp moved")  # may change a section: its document builds them
    built = dict(counted)
    assert all(n == 1 for n in built.values())
    version = flip(platform_team, engaged=True)
    assert counted == built, "a flip built the sections again"
    before, after = document(version - 1), document(version)
    assert after["feature_kill_switches"]["policy-search-v1"]["enabled"] is False
    assert before["feature_kill_switches"]["policy-search-v1"]["enabled"] is True
    assert {n: after[n] for n in policy._sections} == {n: before[n] for n in policy._sections}
    assert PolicyVersion.objects.get().sections_at == version - 1


def test_a_bump_that_may_change_a_section_builds_them_again(platform_team, switches, counted):
    flip(platform_team, engaged=True)
    built = dict(counted)
    policy.policy_bump("ticket CHG-1: promote")
    assert all(counted[n] == built[n] + 1 for n in counted)


def test_a_flip_after_an_unbuilt_section_change_builds_them(
    platform_team, switches, counted, monkeypatch
):
    flip(platform_team, engaged=True)
    with monkeypatch.context() as m:  # its document is left to whoever reads it next
        m.setattr(policy, "build_behind", lambda: None)
        policy.policy_bump("a ramp moved")
    built = dict(counted)
    flip(platform_team, engaged=False)
    assert all(counted[n] == built[n] + 1 for n in counted), "no document since: built anew"


def test_the_sections_follow_a_ramp_the_flip_did_not_touch(platform_team, switches, monkeypatch):
    monkeypatch.setitem(policy._sections, "ramps", lambda: [{"feature": "a", "stage": 1}])
    policy.policy_bump("ticket CHG-1: start_ramp")
    monkeypatch.setitem(policy._sections, "ramps", lambda: [{"feature": "a", "stage": 2}])
    version = flip(platform_team, engaged=True)
    assert document(version)["ramps"] == [{"feature": "a", "stage": 1}]  # as of the flip
    policy.policy_bump("ticket CHG-1: promote")
    assert document(version + 1)["ramps"] == [{"feature": "a", "stage": 2}]


def test_every_flip_until_the_next_section_change_reads_one_parsed_copy(
    platform_team, switches, monkeypatch
):
    policy.policy_bump("a ramp moved")
    from types import SimpleNamespace

    parsed = []
    monkeypatch.setattr(  # policy.py's own json (a document's), not every caller's
        policy, "json", SimpleNamespace(loads=lambda text: parsed.append(1) or json.loads(text))
    )
    policy._fragments.clear()
    for engaged in (True, False, True):
        flip(platform_team, engaged)
    assert len(parsed) == 1, "the sections were parsed again for a later flip"


def test_the_json_is_the_same_bytes_whether_the_sections_are_encoded_or_not(switches):
    from changemgmt.killswitches import document

    sections = {"ramps": [{"feature": "a", "traffic_percent": 5}], "live": {}, "none": None}
    whole = json.dumps(
        {"version": 7, **document.switches_json(), **sections}, separators=(",", ":")
    )
    assert document.render_json(7, sections) == whole
    assert document.render_json(7, document.encode_sections(sections)) == whole
    assert document.render_json(7, {}) == json.dumps(
        {"version": 7, **document.switches_json()}, separators=(",", ":")
    )
