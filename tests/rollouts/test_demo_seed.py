import io

from django.contrib.auth.models import Group

from changemgmt.audit.recording import system_user
from changemgmt.rollouts import demo
from changemgmt.rollouts.models import GuardPolicy, RolloutPolicy


def test_it_seeds_the_ramp_policy_once(db):
    for _ in range(2):
        demo.seed(acting_user=system_user(), stdout=io.StringIO())
    assert GuardPolicy.objects.count() == 12
    assert RolloutPolicy.objects.get().region_rings == [["AU", "CA"], ["EU"], ["US"]]
    assert Group.objects.filter(name="observability").exists()


def test_it_seeds_an_observability_account_that_gets_a_token(db, client):
    from django.core.management import call_command

    call_command("seed_demo", password="demo-pass-1", stdout=io.StringIO())
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "observability", "password": "demo-pass-1"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["token"]
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="observability")
    assert list(user.groups.values_list("name", flat=True)) == ["observability"]
