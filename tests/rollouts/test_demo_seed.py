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
