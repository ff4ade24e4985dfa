import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command

from changemgmt.killswitches import policy
from changemgmt.killswitches.document import render_yaml
from changemgmt.killswitches.models import FeatureSwitch, ModelSwitch, TenantSwitch
from tests.factories import ModelFactory

pytestmark = pytest.mark.django_db

# The article's file pauses a tenant until 2026-06-30; an expiry already past is refused (as the
# flip API refuses it), so these tests import it on a day before then, as the article was written.
ARTICLE_DAY = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _on_the_articles_day():
    with time_machine.travel(ARTICLE_DAY, tick=False):
        yield


GOLDEN = Path(__file__).parent / "golden" / "kill-switches.yaml"


def snapshot():
    return (
        list(FeatureSwitch.objects.values()),
        list(ModelSwitch.objects.values()),
        list(TenantSwitch.objects.values()),
        policy.current_version(),
        FeatureSwitch.history.count() + ModelSwitch.history.count() + TenantSwitch.history.count(),
    )


def run(tmp_path, text, *args):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    out = io.StringIO()
    call_command("import_gateway_policy", str(path), *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def world(switches):
    ModelFactory(model_id="bedrock.anthropic.claude-haiku-4-5")
    ModelFactory(model_id="bedrock.anthropic.claude-sonnet-4-5")
    return switches


BASE = """\
feature_kill_switches:
  policy-search-v1:
    enabled: true
    fallback: keyword-search-v3
model_kill_switches:
  - model: openai.gpt-4o-2024-11
    disabled: false
    fallback_model: anthropic.claude-sonnet-4-5
tenant_kill_switches:
  enterprise-tenant-12891:
    ai_disabled: true
    reason: "tenant compliance pause; ticket SUP-44012"
    expires: 2026-06-30
"""


def test_it_imports_all_changes_in_one_version(tmp_path, world):
    out = run(tmp_path, BASE)
    assert "~ tenant:enterprise-tenant-12891 ai_disabled: false -> true" in out
    tenant = TenantSwitch.objects.get()
    assert tenant.ai_disabled and tenant.expires == date(2026, 6, 30)
    assert tenant.reason == "tenant compliance pause; ticket SUP-44012"
    assert policy.current_version() == 1
    assert tenant.history.first().history_change_reason == "imported from policy.yaml"


def test_it_prints_the_diff_and_changes_nothing_on_dry_run(tmp_path, world):
    before = snapshot()
    out = run(tmp_path, BASE.replace("enabled: true", "enabled: false"), "--dry-run")
    assert "~ feature:policy-search-v1 enabled: true -> false" in out
    assert "Dry run" in out
    assert snapshot() == before


@pytest.mark.parametrize(
    "text, message",
    [
        (BASE.replace("    enabled: true", "    enabled: [true"), "line "),
        (
            BASE.replace("policy-search-v1:", "no-such-feature:"),
            "line 2: unknown feature 'no-such-feature'",
        ),
        (
            BASE.replace("- model: openai.gpt-4o-2024-11", "- model: openai.gpt-5"),
            "line 6: unknown model 'openai.gpt-5'",
        ),
        (
            BASE.replace(
                "fallback_model: anthropic.claude-sonnet-4-5", "fallback_model: nowhere.model"
            ),
            "line 8: fallback model 'nowhere.model' does not exist",
        ),
        (
            BASE.replace(
                "fallback_model: anthropic.claude-sonnet-4-5",
                "fallback_model: openai.gpt-4o-2024-11",
            ),
            "line 8: model openai.gpt-4o-2024-11 falls back to itself",
        ),
        (
            BASE.replace("fallback: keyword-search-v3", "fallback: policy-search-v1"),
            "line 4: feature policy-search-v1 falls back to itself",
        ),
        (
            BASE.replace("enterprise-tenant-12891:", "tenant-unknown:"),
            "line 10: unknown tenant 'tenant-unknown'",
        ),
        (
            BASE.replace("enabled: true", "enabled: maybe"),
            "line 3: policy-search-v1.enabled must be true or false",
        ),
        (
            BASE.replace("expires: 2026-06-30", "expires: soon"),
            "line 13: enterprise-tenant-12891.expires must be a date",
        ),
        (BASE.replace("    disabled: false\n", ""), "line 6: a model switch is missing disabled"),
        (BASE + "cohort_kill_switches: {}\n", "line 14: unknown section 'cohort_kill_switches'"),
        ("- just\n- a list\n", "line 1: the policy must be a mapping"),
        (
            BASE.replace(
                "model_kill_switches:",
                "  policy-search-v1:\n    enabled: false\n    fallback: x\nmodel_kill_switches:",
            ),
            "line 5: feature policy-search-v1 appears twice",
        ),
        (
            BASE + "  enterprise-tenant-12891:\n    ai_disabled: false\n    reason: x\n"
            "    expires: 2026-07-01\n",
            "line 14: tenant enterprise-tenant-12891 appears twice",
        ),
        (
            BASE.replace("fallback: keyword-search-v3", 'fallback: " "'),
            "line 4: policy-search-v1.fallback is empty",
        ),
        (
            BASE.replace("tenant compliance pause; ticket SUP-44012", "x" * 501),
            "line 12: enterprise-tenant-12891.reason is longer than 500 characters",
        ),
        (
            BASE.replace("    expires: 2026-06-30\n", "    expires: 2026-06-30\n    owner: me\n"),
            "line 14: unknown field 'owner' in tenant enterprise-tenant-12891",
        ),
    ],
)
def test_it_refuses_a_bad_file_naming_the_line_and_changes_nothing(tmp_path, world, text, message):
    before = snapshot()
    with pytest.raises(CommandError) as caught:
        run(tmp_path, text)
    assert message in str(caught.value)
    assert "nothing changed" in str(caught.value)
    assert snapshot() == before


def test_it_changes_nothing_when_a_later_entry_is_bad(tmp_path, world):
    # The first entries are valid: all or nothing means they are not applied either.
    before = snapshot()
    with pytest.raises(CommandError):
        run(
            tmp_path,
            BASE.replace("enabled: true", "enabled: false").replace(
                "enterprise-tenant-12891:", "nobody:"
            ),
        )
    assert snapshot() == before


def test_it_round_trips_export_import_export(tmp_path, world):
    run(tmp_path, BASE)
    exported = render_yaml()
    version = policy.current_version()
    out = run(tmp_path, exported)
    assert "No changes." in out
    assert render_yaml() == exported
    assert policy.current_version() == version


def test_it_loads_the_articles_file_onto_fresh_switches(tmp_path, world):
    from tests.factories import FeatureFactory, TeamFactory

    team = TeamFactory(slug="uw")
    for slug, fallback in [
        ("underwriting-decision-v2", "human-review-queue"),
        ("support-assistant", "human-agent-queue"),
    ]:
        FeatureFactory(slug=slug, owner_team=team, fallback=fallback)
    golden = GOLDEN.read_text()
    run(tmp_path, golden)
    exported = io.StringIO()
    call_command("export_gateway_policy", stdout=exported)
    assert exported.getvalue() == golden


@pytest.mark.parametrize("expires", ["2026-13-45", "2027-02-30"])
def test_it_names_the_line_of_an_impossible_expiry_date(tmp_path, expires):
    from tests.factories import TenantFactory

    TenantFactory(tenant_id="enterprise-tenant-1")
    text = (
        "feature_kill_switches: {}\n"
        "model_kill_switches: []\n"
        "tenant_kill_switches:\n"
        "  enterprise-tenant-1:\n"
        "    ai_disabled: true\n"
        '    reason: "compliance pause"\n'
        f"    expires: {expires}\n"
    )
    before = snapshot()
    with pytest.raises(CommandError) as error:
        run(tmp_path, text)
    assert f": line 7: enterprise-tenant-1.expires is not a valid date: {expires}" in str(
        error.value
    )
    assert snapshot() == before
