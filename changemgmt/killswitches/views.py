"""The kill-switch console and the game-day pages. Every view: fetch with an access check,
validate the form, call the service, redirect."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from changemgmt import clock, roles
from changemgmt.audit.models import AuditRecord
from changemgmt.catalog.models import Tenant

from . import gamedays, services
from .filters import GameDayFilter
from .forms import ExerciseStartForm, FlipForm, RescheduleForm, VerifyForm
from .freshness import freshness_of
from .models import LAYERS, Exercise, GameDay, TenantSwitch

FRESHNESS = ("green", "amber", "stale")


def _require_exerciser(request):
    """Refuse before reading the form: a role that may run no exercise gets 403, not 400."""
    roles.require_human_reader(request.user, "the kill-switch console")
    if not roles.has_role(
        request.user, roles.PLATFORM_TEAM, roles.FEATURE_OWNER, roles.SUPPORT_ENG
    ):
        raise PermissionDenied(
            "Only a switch's owners or the platform team run game-day exercises."
        )


def owner_label(switch) -> str:
    if switch.layer == "feature":
        return f"{switch.feature.owner_team.name} + platform team"
    if switch.layer == "model":
        return "platform team"
    return "support engineering"


def last_flip(switch):
    """The latest audit record of the switch (who flipped it, when, why), None for a new one."""
    if switch.pk is None:
        return None
    record = AuditRecord.objects.filter(object_key=switch.path).order_by("-seq").first()
    if record is None:
        return None
    verb, _, why = record.reason.partition(": ")
    return {
        "user": record.actor_username or "system",
        "at": record.created_at,
        "verb": verb,
        "why": why if verb in ("engaged", "released") else record.reason,
    }


def switch_row(user, switch, *, now=None) -> dict:
    """What the console shows of one switch."""
    return {
        "new": switch.pk is None,
        "last_flip": last_flip(switch),
        "switch": switch,
        "layer": switch.layer,
        "key": switch.key,
        "engaged": switch.engaged,
        "fallback": switch.fallback_label,
        "owner": owner_label(switch),
        "last_exercised": switch.last_exercised_at,
        "freshness": freshness_of(switch.last_exercised_at, now=now or clock.now()),
        "may_flip": services.may_flip(user, switch),
    }


def switch_rows(user, *, state="", fresh="", query="") -> dict[str, list[dict]]:
    now = clock.now()
    tables = {}
    for layer in LAYERS:
        rows = []
        switches = list(services.switch_queryset(layer).order_by("pk"))
        if layer == "tenant":  # tenants with no switch yet: their owners may engage one
            switches += [TenantSwitch(tenant=t) for t in Tenant.objects.filter(kill_switch=None)]
        for switch in switches:
            row = switch_row(user, switch, now=now)
            if state and (state == "engaged") != row["engaged"]:
                continue
            if fresh and (row["new"] or row["freshness"] != fresh):
                continue
            if query and query.lower() not in switch.key.lower():
                continue
            rows.append(row)
        tables[layer] = rows
    return tables


def console(request):
    roles.require_human_reader(request.user, "the kill-switch console")
    state = request.GET.get("state", "")
    fresh = request.GET.get("freshness", "")
    query = request.GET.get("q", "").strip()
    state = state if state in ("engaged", "released") else ""
    fresh = fresh if fresh in FRESHNESS else ""
    return render(
        request,
        "killswitches/console.html",
        {
            "tables": switch_rows(request.user, state=state, fresh=fresh, query=query),
            "filters": {"state": state, "freshness": fresh, "q": query},
            "gateways": services.gateway_status(),
            "version": services.current_version(),
        },
    )


def _switch_or_404(layer, key):
    if layer not in LAYERS:
        raise Http404("Unknown layer")
    switch = services.find_or_new_switch(f"{layer}:{key}")
    if switch is None:
        raise Http404("No such kill switch")
    return switch


@require_http_methods(["GET", "POST"])
def flip(request, layer, key):
    """The confirm page (blast radius, reason), or with htmx the same form inline in the console
    row; the row then comes back flipped, with the new policy version."""
    roles.require_human_reader(request.user, "the kill-switch console")
    switch = _switch_or_404(layer, key)
    if not services.may_flip(request.user, switch):
        raise PermissionDenied(services.flip_permission_reason(switch))
    engage = not switch.engaged
    inline = bool(request.htmx)
    auto_id = f"flip-{switch.path}-%s" if inline else "id_%s"
    form = FlipForm(
        request.POST or None, auto_id=auto_id, initial={"engage": "1" if engage else "0"}
    )
    status, refused = 200, ""
    if request.method == "POST":
        status = 400
        if form.is_valid() and form.cleaned_data["engage"] != engage:
            # Someone flipped it since this form was shown: nothing changes, and the form now
            # offers the other direction.
            state = "engaged (AI off)" if switch.engaged else "released (AI on)"
            form = FlipForm(auto_id=auto_id, initial={"engage": "1" if engage else "0"})
            refused = f"{switch.path} is already {state}: nothing changed."
            status = 409
        elif form.is_valid():
            try:
                result = services.killswitch_flip(
                    layer,
                    key,
                    engaged=engage,
                    reason=form.cleaned_data["reason"],
                    expires=form.cleaned_data["expires"] if layer == "tenant" else None,
                    acting_user=request.user,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                if inline:
                    switch = services.find_switch(switch.path)
                    return _render_switch(request, switch, done=result.message)
                messages.success(request, result.message)
                return redirect("killswitches:console")
    context = {
        "switch": switch,
        "refused": refused,
        "engage": engage,
        "blast_radius": services.blast_radius(switch) if engage else "",
        "form": form,
    }
    if inline:
        return _render_switch(request, switch, status=status, **context)
    return render(request, "killswitches/flip_confirm.html", context, status=status)


HISTORY_LIMIT = 200


@require_safe
def switch_history(request, layer, key):
    """Every audit record of one switch, newest first: its flips, expiries and edits."""
    roles.require_human_reader(request.user, "the kill-switch console")
    shown = _switch_or_404(layer, key)
    records = AuditRecord.objects.filter(object_key=shown.path).order_by("-seq")
    return render(
        request,
        "killswitches/history.html",
        {"switch": shown, "records": records[:HISTORY_LIMIT], "limit": HISTORY_LIMIT},
    )


@require_safe
def switch(request, layer, key):
    """One switch's console row (what the inline form's Cancel puts back)."""
    roles.require_human_reader(request.user, "the kill-switch console")
    return _render_switch(request, _switch_or_404(layer, key))


def _render_switch(request, shown, *, status=200, done="", **context):
    return render(
        request,
        "killswitches/_switch.html",
        {
            "switch": shown,
            "row": switch_row(request.user, shown),
            "layer": shown.layer,
            "done": done,
            "version": services.current_version() if done else None,
            **context,
        },
        status=status,
    )


def game_days(request):
    roles.require_human_reader(request.user, "the kill-switch console")
    return render(
        request,
        "killswitches/game_days.html",
        {
            "game_days": GameDayFilter.listing(request.GET),
            "follow_ups": gamedays.failed_follow_ups(),
            "this_quarter": gamedays.quarter_of(clock.now().date()),
        },
    )


def game_day(request, pk):
    roles.require_human_reader(request.user, "the kill-switch console")
    day = get_object_or_404(GameDay, pk=pk)
    return _render_game_day(request, day)


def _render_game_day(request, day, *, errors=None, status=200):
    exercises = {}
    for exercise in day.exercises.select_related("performed_by").order_by("flipped_at"):
        exercises.setdefault(exercise.switch_path, []).append(exercise)
    rows = []
    for switch in gamedays.all_switches():
        done = exercises.get(switch.path, [])
        for exercise in done:
            exercise.ttk = gamedays.time_to_kill(exercise)
            exercise.reporting = gamedays.reporting_gateway_count(exercise)
        rows.append(
            {
                "switch": switch,
                "exercises": done,
                "open": next((e for e in done if e.is_open or e.fallback_verified is None), None),
                "may_run": gamedays.may_run_exercise(request.user, switch),
                "freshness": freshness_of(switch.last_exercised_at),
            }
        )
    return render(
        request,
        "killswitches/game_day.html",
        {
            "day": day,
            "rows": rows,
            "errors": errors or {},
            "may_reschedule": roles.has_role(request.user, roles.PLATFORM_TEAM),
            "reschedule_form": RescheduleForm(initial={"scheduled_for": day.scheduled_for}),
            "verify_form": VerifyForm(),
            "reference_gateway": settings.REFERENCE_GATEWAY_URL,
        },
        status=status,
    )


def _refused(request, day, exc):
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return _render_game_day(request, day, errors=errors, status=400)


@require_POST
def exercise_start(request, pk):
    _require_exerciser(request)
    day = get_object_or_404(GameDay, pk=pk)
    form = ExerciseStartForm(request.POST)
    if not form.is_valid():
        return _render_game_day(request, day, errors=form.errors, status=400)
    try:
        gamedays.exercise_start(
            game_day=day,
            switch_path=form.cleaned_data["switch_path"],
            canary_slice=form.cleaned_data["canary_slice"],
            acting_user=request.user,
        )
    except ValidationError as exc:
        return _refused(request, day, exc)
    messages.success(request, f"{form.cleaned_data['switch_path']} flipped on the canary slice.")
    return redirect("killswitches:game-day", pk=day.pk)


@require_POST
def exercise_verify(request, pk):
    _require_exerciser(request)
    exercise = get_object_or_404(Exercise, pk=pk)
    form = VerifyForm(request.POST)
    if not form.is_valid():
        return _render_game_day(request, exercise.game_day, errors=form.errors, status=400)
    try:
        gamedays.exercise_verify(
            exercise,
            passed=form.cleaned_data["result"] == "pass",
            evidence=form.cleaned_data["evidence"],
            acting_user=request.user,
        )
    except ValidationError as exc:
        return _refused(request, exercise.game_day, exc)
    messages.success(request, f"{exercise.switch_path}: fallback {form.cleaned_data['result']}.")
    return redirect("killswitches:game-day", pk=exercise.game_day_id)


@require_POST
def exercise_check_gateway(request, pk):
    """Check the fallback through the reference gateway and record its answer as evidence."""
    from .fallback_check import exercise_check_through_gateway

    _require_exerciser(request)
    exercise = get_object_or_404(Exercise, pk=pk)
    try:
        exercise = exercise_check_through_gateway(exercise, acting_user=request.user)
    except ValidationError as exc:
        return _refused(request, exercise.game_day, exc)
    messages.success(request, f"{exercise.switch_path}: fallback {exercise.result} (gateway).")
    return redirect("killswitches:game-day", pk=exercise.game_day_id)


@require_POST
def exercise_restore(request, pk):
    _require_exerciser(request)
    exercise = get_object_or_404(Exercise, pk=pk)
    gamedays.exercise_restore(exercise, acting_user=request.user)
    messages.success(request, f"{exercise.switch_path} restored.")
    return redirect("killswitches:game-day", pk=exercise.game_day_id)


@require_POST
def game_day_reschedule(request, pk):
    roles.require_human_reader(request.user, "the kill-switch console")
    if not roles.has_role(request.user, roles.PLATFORM_TEAM):
        raise PermissionDenied("Only the platform team reschedules a game day.")
    day = get_object_or_404(GameDay, pk=pk)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        return _render_game_day(request, day, errors=form.errors, status=400)
    try:
        gamedays.game_day_reschedule(
            day, scheduled_for=form.cleaned_data["scheduled_for"], acting_user=request.user
        )
    except ValidationError as exc:
        return _refused(request, day, exc)
    messages.success(
        request, f"Game day {day.quarter} moved to {form.cleaned_data['scheduled_for']}."
    )
    return redirect("killswitches:game-day", pk=day.pk)
