"""Quarterly kill-switch game days (the article: "exercises each kill switch in production on a
small canary slice and verifies the user-facing fallback").

An exercise engages one switch for a canary slice only: the JSON policy carries it under
"canary_exercises" until it is restored, so gateways apply it to that slice and ack the version,
and time-to-kill is measured from those acks.
"""

import re
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from changemgmt import clock, roles
from changemgmt.audit.notify import notify
from changemgmt.audit.recording import save_audited
from changemgmt.catalog.models import Tenant
from changemgmt.windows.calendar import register_event_source

from .models import Exercise, GameDay, Gateway, GatewayAck
from .policy import policy_bump, register_policy_section
from .services import REPORTING_WITHIN, SWITCH_MODELS, find_switch, may_flip, owner_emails

REMIND_AHEAD = timedelta(days=7)
# Any number of digits, so "500%" is refused for its size, with the range, not as gibberish.
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
MAX_CANARY_PERCENT = 10
CANARY_RANGE = f"a percentage slice is more than 0% and at most {MAX_CANARY_PERCENT}% (e.g. 5%)"


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_bounds(quarter: str) -> tuple[date, date]:
    year, q = int(quarter[:4]), int(quarter[-1])
    start = date(year, 3 * (q - 1) + 1, 1)
    end = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - timedelta(days=1)
    return start, end


def default_date(quarter: str, today: date) -> date:
    """The second Wednesday of the quarter's middle month, or the next Wednesday if that passed."""
    start, end = quarter_bounds(quarter)
    middle = start.replace(month=start.month + 1)
    day = middle + timedelta(days=(2 - middle.weekday()) % 7 + 7)
    if day < today:
        day = today + timedelta(days=(2 - today.weekday()) % 7 or 7)
    return min(day, end)


def all_switches() -> list:
    found = []
    for layer, model in SWITCH_MODELS.items():
        found += list(model.objects.select_related(layer).order_by("pk"))
    return found


def plan_game_days() -> dict:
    """One game day per quarter (this one and the next), and one reminder to the owners a week
    ahead. Idempotent: the quarter is unique and the reminder is claimed under a row lock."""
    today = clock.now().date()
    next_quarter = quarter_of(quarter_bounds(quarter_of(today))[1] + timedelta(days=1))
    created = reminded = 0
    for quarter in (quarter_of(today), next_quarter):
        if not GameDay.objects.filter(quarter=quarter).exists():
            try:
                with transaction.atomic():
                    save_audited(
                        GameDay(quarter=quarter, scheduled_for=default_date(quarter, today)),
                        acting_user=_system(),
                        reason="planned by the quarterly schedule",
                    )
                    created += 1
            except IntegrityError:
                pass
    for pk in GameDay.objects.filter(
        reminded_at__isnull=True,
        status=GameDay.Status.PLANNED,
        scheduled_for__gte=today,
        scheduled_for__lte=today + REMIND_AHEAD,
    ).values_list("pk", flat=True):
        reminded += _remind(pk, today)
    return {"created": created, "reminded": reminded}


def _system():
    from changemgmt.audit.recording import system_user

    return system_user()


@transaction.atomic
def _remind(pk: int, today: date) -> int:
    game_day = GameDay.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
    if game_day is None or game_day.reminded_at is not None:
        return 0
    switches = all_switches()
    recipients = set()
    for switch in switches:
        recipients |= set(owner_emails(switch))
    game_day.reminded_at = clock.now()
    save_audited(game_day, acting_user=_system(), reason="owners reminded")
    listing = "\n".join(f"- {s.path}" for s in switches)
    notify(
        "gameday.reminder",
        subject=f"Kill-switch game day {game_day.quarter} on {game_day.scheduled_for}",
        body=f"The quarterly kill-switch game day is on {game_day.scheduled_for}. "
        f"Every switch gets exercised on a canary slice:\n{listing}",
        recipients=recipients,
        payload={"game_day": game_day.quarter, "scheduled_for": str(game_day.scheduled_for)},
    )
    return 1


def may_run_exercise(user, switch) -> bool:
    return roles.has_role(user, roles.PLATFORM_TEAM) or may_flip(user, switch)


def validate_canary(canary: str) -> str:
    canary = (canary or "").strip()
    match = _PERCENT.match(canary)
    if match:
        percent = float(match.group(1))
        if 0 < percent <= MAX_CANARY_PERCENT:
            return canary
        raise ValidationError({"canary_slice": f"{canary} is out of range: {CANARY_RANGE}."})
    if canary.startswith("tenant:"):
        if Tenant.objects.filter(tenant_id=canary[len("tenant:") :]).exists():
            return canary
        raise ValidationError({"canary_slice": f"Unknown tenant '{canary[7:]}'."})
    raise ValidationError(
        {"canary_slice": f"Give a tenant (tenant:<id>) or a percentage: {CANARY_RANGE}."}
    )


@transaction.atomic
def exercise_start(*, game_day, switch_path: str, canary_slice: str, acting_user) -> Exercise:
    switch = find_switch(switch_path)
    if switch is None:
        raise ValidationError({"switch_path": f"No kill switch {switch_path}."})
    if not may_run_exercise(acting_user, switch):
        raise PermissionDenied("Only the switch's owners or the platform team run its exercise.")
    canary_slice = validate_canary(canary_slice)
    if Exercise.objects.filter(switch_path=switch.path, restored_at__isnull=True).exists():
        raise ValidationError({"switch_path": f"{switch.path} already has an exercise running."})
    version = policy_bump(f"game day {game_day.quarter}: {switch.path} on {canary_slice}")
    exercise = Exercise(
        game_day=game_day,
        switch_path=switch.path,
        canary_slice=canary_slice,
        flipped_at=clock.now(),
        flip_version=version,
        performed_by=acting_user,
    )
    save_audited(exercise, acting_user=acting_user, reason=f"flipped on {canary_slice}")
    return exercise


def _locked_exercise(exercise, acting_user):
    exercise = Exercise.objects.select_for_update().get(pk=exercise.pk)
    switch = find_switch(exercise.switch_path)
    if switch is None or not may_run_exercise(acting_user, switch):
        raise PermissionDenied("Only the switch's owners or the platform team run its exercise.")
    return exercise, switch


@transaction.atomic
def exercise_verify(exercise, *, passed: bool, evidence: str, acting_user) -> Exercise:
    """Record the fallback check. A pass refreshes the switch's freshness (as of the flip)."""
    exercise, switch = _locked_exercise(exercise, acting_user)
    evidence = (evidence or "").strip()
    if not evidence:
        raise ValidationError({"evidence": "Evidence (what you saw, or a link) is required."})
    if exercise.fallback_verified is not None:
        raise ValidationError({"fallback_verified": "This exercise is already verified."})
    exercise.fallback_verified = bool(passed)
    exercise.evidence = evidence
    verdict = "passed" if passed else "failed"
    save_audited(exercise, acting_user=acting_user, reason=f"fallback {verdict}")
    if passed:
        switch = type(switch).objects.select_for_update().get(pk=switch.pk)
        switch.last_exercised_at = max(
            switch.last_exercised_at or exercise.flipped_at, exercise.flipped_at
        )
        save_audited(
            switch,
            acting_user=acting_user,
            reason=f"exercised on game day {exercise.game_day.quarter}",
        )
        _close_if_covered(exercise.game_day, acting_user)
    return exercise


def _close_if_covered(game_day, acting_user):
    """A game day is done once every switch has a passed exercise in it."""
    passed = set(
        game_day.exercises.filter(fallback_verified=True).values_list("switch_path", flat=True)
    )
    if game_day.status != GameDay.Status.DONE and {s.path for s in all_switches()} <= passed:
        game_day = GameDay.objects.select_for_update().get(pk=game_day.pk)
        game_day.status = GameDay.Status.DONE
        save_audited(game_day, acting_user=acting_user, reason="every switch exercised")


@transaction.atomic
def exercise_restore(exercise, *, acting_user) -> Exercise:
    exercise, switch = _locked_exercise(exercise, acting_user)
    if exercise.restored_at is not None:
        return exercise
    exercise.restored_at = clock.now()
    measure_time_to_kill(exercise)
    save_audited(exercise, acting_user=acting_user, reason="switch restored")
    policy_bump(f"game day: {exercise.switch_path} restored")
    return exercise


def time_to_kill(exercise, now: datetime | None = None) -> float | None:
    """Seconds from the flip until every reporting gateway (one that acked in the day before the
    flip) acked a version containing it; None while pending or when no gateway reports."""
    if exercise.time_to_kill_seconds is not None:
        return exercise.time_to_kill_seconds
    reporting = Gateway.objects.filter(
        acks__acked_at__gte=exercise.flipped_at - REPORTING_WITHIN,
        acks__acked_at__lte=exercise.flipped_at,
    ).distinct()
    latest = None
    for gateway in reporting:
        first = (
            GatewayAck.objects.filter(
                gateway=gateway,
                version__gte=exercise.flip_version,
                acked_at__gte=exercise.flipped_at,
            )
            .order_by("acked_at")
            .values_list("acked_at", flat=True)
            .first()
        )
        if first is None:
            return None
        latest = first if latest is None else max(latest, first)
    if latest is None:
        return None
    return (latest - exercise.flipped_at).total_seconds()


def reporting_gateway_count(exercise) -> int:
    return (
        Gateway.objects.filter(
            acks__acked_at__gte=exercise.flipped_at - REPORTING_WITHIN,
            acks__acked_at__lte=exercise.flipped_at,
        )
        .distinct()
        .count()
    )


def measure_time_to_kill(exercise) -> None:
    """Store time-to-kill on the exercise once every reporting gateway has acked (caller saves)."""
    if exercise.time_to_kill_seconds is None:
        exercise.time_to_kill_seconds = time_to_kill(exercise)


def failed_follow_ups() -> list[Exercise]:
    """Failed exercises not yet answered by a later passed exercise of the same switch."""
    failed = Exercise.objects.filter(fallback_verified=False).select_related("game_day")
    follow_ups = []
    for exercise in failed:
        fixed = Exercise.objects.filter(
            switch_path=exercise.switch_path,
            fallback_verified=True,
            flipped_at__gt=exercise.flipped_at,
        ).exists()
        if not fixed:
            follow_ups.append(exercise)
    return follow_ups


@transaction.atomic
def game_day_reschedule(game_day, *, scheduled_for: date, acting_user) -> GameDay:
    if not roles.has_role(acting_user, roles.PLATFORM_TEAM):
        raise PermissionDenied("Only the platform team reschedules a game day.")
    game_day = GameDay.objects.select_for_update().get(pk=game_day.pk)
    start, end = quarter_bounds(game_day.quarter)
    if not start <= scheduled_for <= end:
        raise ValidationError({"scheduled_for": f"Pick a date inside {game_day.quarter}."})
    if game_day.scheduled_for == scheduled_for:
        return game_day
    old = game_day.scheduled_for
    game_day.scheduled_for = scheduled_for
    game_day.reminded_at = None
    save_audited(game_day, acting_user=acting_user, reason=f"rescheduled from {old}")
    return game_day


def _open_exercises():
    return [
        {
            "switch": e.switch_path,
            "canary": e.canary_slice,
            "engaged": True,
            "since": e.flipped_at.isoformat(),
        }
        for e in Exercise.objects.filter(restored_at__isnull=True).order_by("pk")
    ]


register_policy_section("canary_exercises", _open_exercises)


def _calendar_events(start: datetime, end: datetime) -> list[dict]:
    zone = timezone.get_current_timezone()
    events = []
    for game_day in GameDay.objects.filter(
        scheduled_for__gte=start.date() - timedelta(days=1), scheduled_for__lte=end.date()
    ):
        begins = timezone.make_aware(datetime.combine(game_day.scheduled_for, time(10)), zone)
        events.append(
            {
                "title": f"Kill-switch game day {game_day.quarter}",
                "start": begins,
                "end": begins + timedelta(hours=2),
                "kind": "game_day",
                "url": f"/kill-switches/game-days/{game_day.pk}/",
            }
        )
    return events


register_event_source(_calendar_events)
