import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from changemgmt.catalog.models import AIFeature, AIModel, Cohort, RiskTier, Team, Tenant
from changemgmt.tickets.models import ChangeTicket, EvalDelta, next_change_id


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests-0")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or ():
            self.groups.add(Group.objects.get_or_create(name=role)[0])


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.title())


class FeatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIFeature
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True  # the switch is its own row: one history entry per feature

    slug = factory.Sequence(lambda n: f"feature-{n}")
    name = factory.LazyAttribute(lambda f: f.slug.replace("-", " ").title())
    owner_team = factory.SubFactory(TeamFactory)
    risk_tier = RiskTier.MEDIUM
    customer_facing = False
    users_served = 1_000_000
    fallback = "keyword-search-v3"
    regions = factory.LazyFunction(lambda: ["US"])

    @factory.post_generation
    def switch(self, create, extracted, **kwargs):
        """A feature comes with its kill switch (AI on, the feature's fallback), as the demo
        seed makes it: a ticket's feature:<slug> path must name a switch that exists.
        FeatureFactory(switch=False) makes a catalog entry with no switch yet."""
        if not create or extracted is False:
            return
        from changemgmt.killswitches.models import FeatureSwitch

        FeatureSwitch.objects.get_or_create(feature=self, defaults={"fallback": self.fallback})


class ModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AIModel
        django_get_or_create = ("model_id",)

    model_id = factory.Sequence(lambda n: f"provider.model-{n}")
    provider = "provider"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("tenant_id",)

    tenant_id = factory.Sequence(lambda n: f"tenant-{n}")
    segment = "enterprise"
    region = "US"


class CohortFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cohort
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"cohort-{n}")
    name = factory.LazyAttribute(lambda c: c.slug)


class TicketFactory(factory.django.DjangoModelFactory):
    """A complete draft ticket for its tier (so `submit` passes unless a test breaks a rule)."""

    class Meta:
        model = ChangeTicket
        skip_postgeneration_save = True

    change_id = factory.LazyFunction(lambda: next_change_id(2026))
    title = "Handle the new travel-insurance product line"
    summary = "Prompt update for the support assistant"
    feature = factory.SubFactory(FeatureFactory)
    author = factory.SubFactory(UserFactory, roles=["author"])
    release_manager = factory.SubFactory(UserFactory, roles=["release_manager"])
    risk_tier = factory.LazyAttribute(lambda t: t.feature.risk_tier)
    classification = "prompt"
    rollback_plan = (
        "1. Flip the feature kill switch to fall back. 2. Re-pin the prompt to the previous version "
        "in the registry. 3. Confirm the eval dashboard returns to baseline."
    )
    kill_switch = factory.LazyAttribute(lambda t: f"feature:{t.feature.slug}")
    users_affected = 1_000_000
    regions = factory.LazyFunction(lambda: ["US"])
    max_traffic_percent = 50
    pr_url = "https://git.example.com/ai/support/pull/812"
    prompt_version = "support-assistant@42"
    risk_review_ticket = "AIRR-2291"
    bridge_url = "https://meet.example.com/rel"
    paging_list = factory.LazyFunction(lambda: ["ai-oncall@example.com"])

    @factory.post_generation
    def eval_deltas(self, create, extracted, **kwargs):
        rows = extracted if extracted is not None else [("groundedness", 0.812, 0.822)]
        for metric, baseline, candidate in rows:
            EvalDelta.objects.create(
                ticket=self, metric=metric, baseline=baseline, candidate=candidate
            )
