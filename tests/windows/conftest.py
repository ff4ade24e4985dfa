import pytest
import time_machine

from changemgmt.windows.models import WindowPolicy

WINDOW_GUARDS = {
    "planned_start_is_in_an_open_window",
    "now_is_inside_the_booked_slot",
    "promotion_is_inside_a_window_and_outside_freezes",
}


@pytest.fixture
def at():
    """Move the clock: `with at(ny(2027, 2, 10, 10)): …` (time-machine, no ticking)."""

    def travel(instant):
        return time_machine.travel(instant, tick=False)

    return travel


@pytest.fixture
def window_policy(db):
    return WindowPolicy.objects.create(name="Standard release window")


@pytest.fixture
def only_window_guards(select_guards):
    """Isolate the window rules from other apps' start/promote guards (kill-switch freshness,
    bake time), which their own tests cover."""
    select_guards(WINDOW_GUARDS, on=("schedule", "start", "promote"))


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Persona fixtures hash a password each; the window rules do not need PBKDF2's cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
