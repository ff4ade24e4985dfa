"""Demo switches: the article's `gateway-policies/kill-switches.yaml`, plus the worked example's
support-assistant, each with a passed game-day exercise dated now (so the demo can ramp at once)."""

from datetime import date

from changemgmt import clock
from changemgmt.audit.recording import save_audited
from changemgmt.catalog.models import AIFeature, AIModel, Tenant

from .gamedays import quarter_of
from .models import Exercise, FeatureSwitch, GameDay, ModelSwitch, TenantSwitch
from .policy import policy_bump

FEATURE_SWITCHES = [
    ("policy-search-v1", True, "keyword-search-v3"),
    ("underwriting-decision-v2", True, "human-review-queue"),
    ("support-assistant", True, "human-agent-queue"),
]
MODEL_SWITCHES = [
    ("openai.gpt-4o-2024-11", False, "anthropic.claude-sonnet-4-5"),
    ("bedrock.anthropic.claude-haiku-4-5", False, "bedrock.anthropic.claude-sonnet-4-5"),
]
TENANT_SWITCHES = [
    (
        "enterprise-tenant-12891",
        True,
        "tenant compliance pause; ticket SUP-44012",
        date(2026, 6, 30),
    ),
]
REASON = "seed_demo"
# The reference gateway of `make run` (changemgmt_gateway.reference) acks as this name with the
# demo `gateway` account.
DEMO_GATEWAY = "gw-demo-1"


def still_ahead(expires: date, today: date) -> date:
    """The article's expiry date, or the same day in the first year it is still ahead: a demo
    seeded after 2026-06-30 would otherwise have its tenant switch lifted by the first sweep."""
    while expires <= today:
        expires = expires.replace(year=expires.year + 1)
    return expires


def seed(acting_user, stdout):
    from django.contrib.auth import get_user_model

    from .services import gateway_bind

    account = get_user_model().objects.filter(username="gateway").first()
    if account is not None:
        gateway_bind(gateway_id=DEMO_GATEWAY, account=account, acting_user=acting_user)
    seed_switches(acting_user, stdout)


def seed_switches(acting_user, stdout):
    now = clock.now()
    created = []
    for slug, enabled, fallback in FEATURE_SWITCHES:
        feature = AIFeature.objects.get(slug=slug)
        if not FeatureSwitch.objects.filter(feature=feature).exists():
            created.append(FeatureSwitch(feature=feature, enabled=enabled, fallback=fallback))
    for model_id, disabled, fallback in MODEL_SWITCHES:
        model = AIModel.objects.get(model_id=model_id)
        if not ModelSwitch.objects.filter(model=model).exists():
            created.append(
                ModelSwitch(
                    model=model,
                    disabled=disabled,
                    fallback_model=AIModel.objects.get(model_id=fallback),
                )
            )
    for tenant_id, ai_disabled, reason, expires in TENANT_SWITCHES:
        expires = still_ahead(expires, now.date())
        tenant = Tenant.objects.get(tenant_id=tenant_id)
        if not TenantSwitch.objects.filter(tenant=tenant).exists():
            created.append(
                TenantSwitch(tenant=tenant, ai_disabled=ai_disabled, reason=reason, expires=expires)
            )
    if not created:
        return
    quarter = quarter_of(now.date())
    game_day = GameDay.objects.filter(quarter=quarter).first() or save_audited(
        GameDay(quarter=quarter, scheduled_for=now.date(), status=GameDay.Status.DONE),
        acting_user=acting_user,
        reason=REASON,
    )
    for switch in created:
        switch.last_exercised_at = now
        save_audited(switch, acting_user=acting_user, reason=REASON)
        save_audited(
            Exercise(
                game_day=game_day,
                switch_path=switch.path,
                canary_slice="1%",
                flipped_at=now,
                fallback_verified=True,
                evidence="seed_demo: fallback served on the canary slice",
                restored_at=now,
                performed_by=acting_user,
            ),
            acting_user=acting_user,
            reason=REASON,
        )
    version = policy_bump(REASON)
    stdout.write(f"Kill switches: {len(created)} created, gateway policy v{version}.")
