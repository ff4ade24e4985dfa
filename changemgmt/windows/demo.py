"""Demo data for seed_demo: the standard window policy and the freeze calendar (idempotent)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from changemgmt.audit.recording import save_audited
from changemgmt.catalog.models import AIFeature

from .models import Freeze, WindowPolicy

NY = ZoneInfo("America/New_York")

FREEZES = [
    # name, starts, ends (America/New_York), reason, feature slugs, regions
    (
        "Peak shopping",
        datetime(2026, 11, 26, 0, 0, tzinfo=NY),
        datetime(2026, 12, 1, 0, 0, tzinfo=NY),
        "Thanksgiving to Cyber Monday: peak retail traffic on policy search; no standard changes.",
        ["policy-search-v1"],
        ["US"],
    ),
    (
        "Company all-hands",
        datetime(2026, 12, 10, 9, 0, tzinfo=NY),
        datetime(2026, 12, 10, 18, 0, tzinfo=NY),
        "Major company event: the on-call population is at the all-hands.",
        [],
        [],
    ),
    (
        "Q4 close",
        datetime(2026, 12, 28, 0, 0, tzinfo=NY),
        datetime(2027, 1, 5, 9, 0, tzinfo=NY),
        "Quarter-end financial close: nothing changes under Finance's reporting run.",
        [],
        [],
    ),
]


def seed(acting_user, stdout):
    reason = "seed_demo"
    if not WindowPolicy.objects.exists():
        standard = save_audited(
            WindowPolicy(name="Standard release window", timezone="America/New_York"),
            acting_user=acting_user,
            reason=reason,
        )
        stdout.write(f"Window policy: {standard.describe()}.")
    for name, starts, ends, why, slugs, regions in FREEZES:
        if Freeze.objects.filter(name=name).exists():
            continue
        freeze = save_audited(
            Freeze(name=name, starts_at=starts, ends_at=ends, reason=why, regions=regions),
            acting_user=acting_user,
            reason=reason,
        )
        features = AIFeature.objects.filter(slug__in=slugs)
        if features:
            freeze._history_user = acting_user
            freeze.features.set(features)
            del freeze._history_user
        stdout.write(f"Freeze: {name}.")
