"""After seed_demo the YAML is the article's `gateway-policies/kill-switches.yaml`, byte for byte,
with two additions: the worked example's `support-assistant` feature switch (three lines after
underwriting-decision-v2), which DESIGN.md's demo adds, and, as served, the `# policy-version: N`
comment line after the header, which puts the version inside the signed bytes (issue 12.4: without
it an old signed YAML could be replayed as the current one). The golden file is the exported form,
without that line, which is what `import_gateway_policy` round-trips."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from changemgmt.killswitches import freshness
from changemgmt.killswitches.models import Exercise, FeatureSwitch, ModelSwitch, TenantSwitch

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "golden" / "kill-switches.yaml"


# Seeded before the article's tenant switch expires (2026-06-30), as the article was written.
ARTICLE_DAY = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)


def seed_demo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", password="demo-pass-123", stdout=open("/dev/null", "w"))


@pytest.fixture
def seeded(django_capture_on_commit_callbacks):
    with time_machine.travel(ARTICLE_DAY, tick=False):
        seed_demo(django_capture_on_commit_callbacks)


def test_it_keeps_the_demo_tenant_switch_on_when_seeded_after_the_articles_expiry(
    django_capture_on_commit_callbacks,
):
    from changemgmt.killswitches.tasks import sweep_tenant_switch_expiry

    with time_machine.travel(datetime(2026, 11, 26, 9, 0, tzinfo=UTC), tick=False):
        seed_demo(django_capture_on_commit_callbacks)
        sweep_tenant_switch_expiry()
    switch = TenantSwitch.objects.get(tenant__tenant_id="enterprise-tenant-12891")
    assert switch.ai_disabled is True
    assert switch.expires == date(2027, 6, 30)


def test_it_serves_the_articles_yaml_after_seed_demo(seeded, client):
    from django.contrib.auth import get_user_model

    token = Token.objects.create(user=get_user_model().objects.get(username="gateway"))
    response = client.get(
        "/gateway-policies/kill-switches.yaml", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert response.status_code == 200
    version = response["X-Policy-Version"]
    header = "# gateway-policies/kill-switches.yaml\n"
    served = response.content.decode()
    assert served.startswith(f"{header}# policy-version: {version}\n")
    assert served.replace(f"# policy-version: {version}\n", "", 1) == GOLDEN.read_text()


def test_it_seeds_a_passed_exercise_of_every_switch(django_capture_on_commit_callbacks):
    seed_demo(django_capture_on_commit_callbacks)  # today: every switch fresh, the demo can ramp
    switches = [
        *FeatureSwitch.objects.all(),
        *ModelSwitch.objects.all(),
        *TenantSwitch.objects.all(),
    ]
    assert len(switches) == 6
    for switch in switches:
        assert Exercise.objects.filter(switch_path=switch.path, fallback_verified=True).exists()
        assert freshness.freshness(switch.path)[0] == "green"


def test_it_is_idempotent(seeded):
    from changemgmt.killswitches import policy

    version = policy.current_version()
    call_command("seed_demo", password="demo-pass-123", stdout=open("/dev/null", "w"))
    assert policy.current_version() == version
    assert Exercise.objects.count() == 6
