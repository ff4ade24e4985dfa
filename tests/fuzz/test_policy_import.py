"""Hypothesis fuzz of `import_gateway_policy`: random and mutated YAML is either refused with a
message (CommandError, nothing changed) or accepted — never a traceback."""

import io

import pytest
import yaml
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import UserFactory

FUZZ_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def killswitch_rows():
    return {
        m._meta.label: m._default_manager.count()
        for m in apps.get_app_config("killswitches").get_models()
    }


@pytest.fixture
def policy_yaml(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", password="fuzz-password-0", stdout=io.StringIO())
    client = Client()
    client.force_login(UserFactory(username="yaml-reader", roles=["gateway"]))
    response = client.get("/gateway-policies/kill-switches.yaml")
    assert response.status_code == 200
    return response.content.decode()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["feature", "model", "tenant", "enabled", "disabled", "2026-13-45", "~"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                st.text(max_size=12),
                st.sampled_from(
                    [
                        "kill_switches",
                        "features",
                        "models",
                        "tenants",
                        "enabled",
                        "disabled",
                        "fallback",
                        "ai_disabled",
                        "reason",
                        "expires",
                    ]
                ),
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=20,
)


def run_import(tmp_path, text, dry_run):
    path = tmp_path / "kill-switches.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    before = killswitch_rows()
    args = [str(path)] + (["--dry-run"] if dry_run else [])
    try:
        call_command("import_gateway_policy", *args, stdout=io.StringIO())
    except CommandError as refused:
        assert str(refused).strip(), "refused without a message"
        assert killswitch_rows() == before, "a refused import changed rows (not all or nothing)"
        return "refused"
    if dry_run:
        assert killswitch_rows() == before, "a dry run changed rows"
    return "accepted"


def mutate(text, data):
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 3))):
        if not lines:
            lines = [""]
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate", "insert", "indent"]))
        junk = data.draw(
            st.one_of(
                st.text(max_size=30),
                st.sampled_from(
                    [
                        "enabled: maybe",
                        "disabled: 42",
                        "expires: 2026-02-30",
                        "fallback:",
                        "  - [unbalanced",
                        "{a: 1",
                        "&anchor *anchor",
                        "!!python/object:os.system 'true'",
                        "\t- tab",
                        "key: : value",
                    ]
                ),
            )
        )
        if action == "replace":
            lines[index] = junk
        elif action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "insert":
            lines.insert(index, junk)
        else:
            lines[index] = "  " + lines[index]
    return "\n".join(lines) + "\n"


def test_it_accepts_its_own_export_unchanged(policy_yaml, tmp_path):
    assert run_import(tmp_path, policy_yaml, dry_run=True) == "accepted"


def test_it_refuses_or_accepts_mutated_policy_yaml_without_a_traceback(policy_yaml, tmp_path):
    outcomes = []

    @FUZZ_SETTINGS
    @given(data=st.data(), dry_run=st.booleans())
    def run(data, dry_run):
        outcomes.append(run_import(tmp_path, mutate(policy_yaml, data), dry_run))

    run()
    assert "refused" in outcomes  # the mutations do reach the validation


def test_it_refuses_or_accepts_random_yaml_without_a_traceback(policy_yaml, tmp_path):
    @FUZZ_SETTINGS
    @given(document=documents, dry_run=st.booleans())
    def run(document, dry_run):
        run_import(tmp_path, yaml.safe_dump(document, allow_unicode=True), dry_run)

    run()


def test_it_refuses_or_accepts_random_text_without_a_traceback(policy_yaml, tmp_path):
    @FUZZ_SETTINGS
    @given(text=st.text(max_size=400))
    def run(text):
        run_import(tmp_path, text, dry_run=True)

    run()
