import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from changemgmt.catalog.models import AIFeature
from tests.factories import TicketFactory, UserFactory

DEMO_PASSWORD = "demo-password-for-security-tests-0"
COUNTED_APPS = {
    "audit",
    "catalog",
    "tickets",
    "windows",
    "killswitches",
    "rollouts",
    "web",
    "auth",
}


@pytest.fixture
def fast_passwords(settings):
    # Thirteen demo users per test: PBKDF2 would make the setup, not the test, the slow part.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db, fast_passwords):
    """The demo world (one user per role, usernames = role names), an outsider, and a draft
    ticket on the worked example's feature filed by `author`."""
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=open("/dev/null", "w"))  # noqa: SIM115
    users = {u.username: u for u in get_user_model().objects.all()}
    users["outsider"] = UserFactory(username="outsider")
    feature = AIFeature.objects.get(slug="support-assistant")
    # Sized for the feature: the ramp plan may not project more users than the ticket names.
    ticket = TicketFactory(
        feature=feature, author=users["author"], users_affected=feature.users_served
    )
    from changemgmt.killswitches.models import Exercise, GameDay
    from changemgmt.rollouts.models import Breach

    first = lambda model: model.objects.order_by("pk").values_list("pk", flat=True).first()  # noqa: E731
    samples = {
        "game_day": first(GameDay),
        "exercise": first(Exercise),
        "breach": first(Breach),
        "control": "halt",
        "change_id": ticket.change_id,
        "pk": ticket.pk,
        "feature": feature.slug,
        "layer": "feature",
        "key": feature.slug,
        "transition": "submit",
        "model": "openai.gpt-4o-2024-11",
        "tenant": "enterprise-tenant-12891",
        "cohort": "internal",
        "format": "json",
        "year": 2026,
        "month": 11,
    }
    return {"users": users, "ticket": ticket, "feature": feature, "samples": samples}


def row_counts() -> dict[str, int]:
    """Rows per model of our apps (history tables included): a POST that changes nothing leaves
    these as they were."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in COUNTED_APPS
    }
