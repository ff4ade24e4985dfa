"""Load the article's world: features, models, tenant, switches, window policy, one user per role.

Idempotent: running it twice changes nothing the second time. Each app adds its own part through
a `demo.seed(acting_user, stdout)` function (windows, killswitches, rollouts), called in order.
"""

import importlib
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from changemgmt import roles
from changemgmt.audit.recording import save_audited, system_user
from changemgmt.catalog.models import (
    AIFeature,
    AIModel,
    Cohort,
    RiskTier,
    Segment,
    Team,
    Tenant,
    TierPolicy,
    default_ramp_for,
)

TEAMS = [
    ("ai-platform", "AI platform"),
    ("search", "Search"),
    ("underwriting", "Underwriting"),
    ("support", "Customer support"),
]

FEATURES = [
    # slug, name, team, tier, customer-facing, users served, fallback, regions
    (
        "policy-search-v1",
        "Policy search",
        "search",
        RiskTier.LOW,
        True,
        250_000,
        "keyword-search-v3",
        ["US", "CA"],
    ),
    (
        "underwriting-decision-v2",
        "Underwriting decision assistant",
        "underwriting",
        RiskTier.HIGH,
        False,
        12_000,
        "human-review-queue",
        ["US"],
    ),
    (
        "support-assistant",
        "Customer-support assistant",
        "support",
        RiskTier.MEDIUM,
        True,
        4_000_000,
        "human-agent-queue",
        ["AU", "CA", "EU", "US"],
    ),
]

MODELS = [
    ("openai.gpt-4o-2024-11", "openai"),
    ("anthropic.claude-sonnet-4-5", "anthropic"),
    ("bedrock.anthropic.claude-haiku-4-5", "bedrock"),
    ("bedrock.anthropic.claude-sonnet-4-5", "bedrock"),
]

TENANTS = [
    ("enterprise-tenant-12891", "Enterprise tenant 12891", Segment.ENTERPRISE, "US"),
    ("internal-employees", "Internal employees", Segment.INTERNAL, "US"),
    ("design-partner-acme", "Acme (design partner)", Segment.DESIGN_PARTNER, "CA"),
]

COHORTS = [("internal", "Internal"), ("free", "Free tier"), ("opted_in", "Opted in")]

TOLERANCE = {RiskTier.LOW: 0.01, RiskTier.MEDIUM: 0.005, RiskTier.HIGH: 0.0}

# Which demo users sit in which owner teams (feature_owner flips its teams' feature switches).
TEAM_MEMBERS = {
    "ai-platform": ["platform_team"],
    "support": ["feature_owner"],
    "search": ["feature_owner"],
}

DEMO_APPS = [
    "changemgmt.windows",
    "changemgmt.killswitches",
    "changemgmt.rollouts",
    "changemgmt.tickets",
]


class Command(BaseCommand):
    help = "Load the demo world (the article's features, models, tenant, switches and one user per role)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default=None, help="Password of the demo users (or DEMO_PASSWORD)."
        )

    def handle(self, *args, password=None, **options):
        password = password or os.environ.get("DEMO_PASSWORD")
        if not password:
            raise CommandError("Give the demo users' password with --password or DEMO_PASSWORD.")
        with transaction.atomic():
            actor = system_user()
            self.seed_users(password)
            self.seed_catalog(actor)
            for app in DEMO_APPS:
                try:
                    module = importlib.import_module(f"{app}.demo")
                except ModuleNotFoundError:
                    continue
                module.seed(acting_user=actor, stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS("Demo loaded: one user per role, usernames = role names.")
        )

    @staticmethod
    def _seed_user(role, password):
        group, _ = Group.objects.get_or_create(name=role)
        user, created = get_user_model().objects.get_or_create(
            username=role,
            defaults={"email": f"{role}@example.com", "first_name": roles.ROLE_LABELS[role]},
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.save()
        user.groups.add(group)

    def seed_users(self, password):
        User = get_user_model()
        for role in roles.ALL_ROLES:
            self._seed_user(role, password)
        # The machine account observability posts health samples with (its token: README).
        self._seed_user(roles.OBSERVABILITY, password)
        admin, created = User.objects.get_or_create(
            username="admin",
            defaults={"email": "admin@example.com", "is_staff": True, "is_superuser": True},
        )
        if created or not admin.check_password(password):
            admin.set_password(password)
            admin.save()

    def seed_catalog(self, actor):
        reason = "seed_demo"
        User = get_user_model()
        for slug, name in TEAMS:
            team = Team.objects.filter(slug=slug).first() or save_audited(
                Team(slug=slug, name=name), acting_user=actor, reason=reason
            )
            for username in TEAM_MEMBERS.get(slug, []):
                team.members.add(User.objects.get(username=username))
        for slug, name, team, tier, customer_facing, users, fallback, regions in FEATURES:
            if not AIFeature.objects.filter(slug=slug).exists():
                save_audited(
                    AIFeature(
                        slug=slug,
                        name=name,
                        owner_team=Team.objects.get(slug=team),
                        risk_tier=tier,
                        customer_facing=customer_facing,
                        users_served=users,
                        fallback=fallback,
                        regions=regions,
                    ),
                    acting_user=actor,
                    reason=reason,
                )
        for model_id, provider in MODELS:
            if not AIModel.objects.filter(model_id=model_id).exists():
                save_audited(
                    AIModel(model_id=model_id, provider=provider), acting_user=actor, reason=reason
                )
        for tenant_id, name, segment, region in TENANTS:
            if not Tenant.objects.filter(tenant_id=tenant_id).exists():
                save_audited(
                    Tenant(tenant_id=tenant_id, name=name, segment=segment, region=region),
                    acting_user=actor,
                    reason=reason,
                )
        for slug, name in COHORTS:
            if not Cohort.objects.filter(slug=slug).exists():
                save_audited(Cohort(slug=slug, name=name), acting_user=actor, reason=reason)
        for tier in RiskTier.values:
            if not TierPolicy.objects.filter(tier=tier).exists():
                save_audited(
                    TierPolicy(
                        tier=tier,
                        eval_regression_tolerance=TOLERANCE[tier],
                        default_ramp=default_ramp_for(tier),
                        min_samples_per_stage=20,
                    ),
                    acting_user=actor,
                    reason=reason,
                )
