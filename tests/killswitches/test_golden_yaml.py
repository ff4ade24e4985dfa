"""After seed_demo the YAML is the article's `gateway-policies/kill-switches.yaml`, byte for byte,
with one addition: the worked example's `support-assistant` feature switch (three lines after
underwriting-decision-v2), which DESIGN.md's demo adds."""

from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from changemgmt.killswitches import freshness
from changemgmt.killswitches.models import Exercise, FeatureSwitch, ModelSwitch, TenantSwitch

pytestmark = pytest.mark.django_db

GOLDEN = Path(__file__).parent / "golden" / "kill-switches.yaml"


@pytest.fixture
def seeded(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", password="demo-pass-123", stdout=open("/dev/null", "w"))


def test_it_serves_the_articles_yaml_after_seed_demo(seeded, client):
    from django.contrib.auth import get_user_model

    token = Token.objects.create(user=get_user_model().objects.get(username="gateway"))
    response = client.get(
        "/gateway-policies/kill-switches.yaml", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert response.status_code == 200
    assert response.content.decode() == GOLDEN.read_text()


def test_it_seeds_a_passed_exercise_of_every_switch(seeded):
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
