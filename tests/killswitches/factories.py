import factory

from changemgmt.killswitches.models import (
    Exercise,
    FeatureSwitch,
    GameDay,
    ModelSwitch,
    TenantSwitch,
)
from tests.factories import FeatureFactory, ModelFactory, TenantFactory, UserFactory


class FeatureSwitchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FeatureSwitch

    feature = factory.SubFactory(FeatureFactory, switch=False)
    enabled = True
    fallback = factory.LazyAttribute(lambda s: s.feature.fallback)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """A FeatureFactory feature already has its switch: this one takes its place (updated
        with the given fields) rather than a second one-to-one row."""
        switch = model_class.objects.filter(feature=kwargs["feature"]).first()
        if switch is None:
            return super()._create(model_class, *args, **kwargs)
        for field, value in kwargs.items():
            setattr(switch, field, value)
        switch.save()
        return switch


class ModelSwitchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelSwitch

    model = factory.SubFactory(ModelFactory)
    disabled = False
    fallback_model = factory.SubFactory(ModelFactory)


class TenantSwitchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantSwitch

    tenant = factory.SubFactory(TenantFactory)
    ai_disabled = False
    reason = ""


class GameDayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GameDay
        django_get_or_create = ("quarter",)

    quarter = "2026-Q4"
    scheduled_for = factory.LazyFunction(lambda: __import__("datetime").date(2026, 11, 11))


class ExerciseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exercise

    game_day = factory.SubFactory(GameDayFactory)
    canary_slice = "1%"
    performed_by = factory.SubFactory(UserFactory)
