"""Demo ramp policy: guard thresholds per tier, the region rings, and the `observability`
machine account's group (samples are posted with its API token)."""

from django.contrib.auth.models import Group

from changemgmt.audit.recording import save_audited
from changemgmt.catalog.models import RiskTier

from .api import OBSERVABILITY
from .models import DEFAULT_REGION_RINGS, DEFAULT_THRESHOLDS, GuardPolicy, RolloutPolicy

REASON = "seed_demo"


def seed(acting_user, stdout):
    Group.objects.get_or_create(name=OBSERVABILITY)
    if not RolloutPolicy.objects.exists():
        save_audited(
            RolloutPolicy(name="default", region_rings=DEFAULT_REGION_RINGS),
            acting_user=acting_user,
            reason=REASON,
        )
    created = 0
    for tier in RiskTier.values:
        for metric, (threshold, severe) in DEFAULT_THRESHOLDS.items():
            if GuardPolicy.objects.filter(tier=tier, metric=metric).exists():
                continue
            save_audited(
                GuardPolicy(tier=tier, metric=metric, threshold=threshold, severe_threshold=severe),
                acting_user=acting_user,
                reason=REASON,
            )
            created += 1
    stdout.write(f"rollouts: {created} guard policies, region rings {DEFAULT_REGION_RINGS}.")
