from datetime import date, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from changemgmt import clock, roles
from changemgmt.tickets import rules
from changemgmt.tickets.forms import ScheduleForm
from changemgmt.tickets.models import ChangeTicket
from changemgmt.tickets.services import TransitionRefused, ticket_schedule

from . import policy
from .calendar import events_between, ticket_url
from .week_grid import week_columns


def _anchor(request, zone) -> date | None:
    raw = request.GET.get("date", "")
    if not raw:
        return clock.now().astimezone(zone).date()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def calendar_page(request):
    roles.require_human_reader(request.user, "the change calendar")
    active = policy.current_policy()
    zone = active.zone
    view = request.GET.get("view", "month")
    if view not in ("month", "week"):
        return HttpResponseBadRequest("view must be 'month' or 'week'.")
    anchor = _anchor(request, zone)
    if anchor is None or not 1900 < anchor.year < 9000:
        return HttpResponseBadRequest("date must be YYYY-MM-DD.")
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=7)
        prev_date, next_date = first - timedelta(days=7), last
        title = f"Week of {first:%a %d %b %Y}"
    else:
        month_start = anchor.replace(day=1)
        first = month_start - timedelta(days=month_start.weekday())
        month_end = _add_months(month_start, 1)
        last = month_end + timedelta(days=(7 - month_end.weekday()) % 7)
        prev_date, next_date = _add_months(month_start, -1), month_end
        title = f"{month_start:%B %Y}"
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(last, datetime.min.time(), tzinfo=zone)
    events = events_between(start, end)
    today = clock.now().astimezone(zone).date()
    days = []
    day = first
    while day < last:
        day_start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        days.append(
            {
                "date": day,
                "today": day == today,
                "in_month": view == "week" or day.month == anchor.month,
                "events": [e for e in events if e["start"] < day_end and e["end"] > day_start],
            }
        )
        day += timedelta(days=1)
    weeks = [days[i : i + 7] for i in range(0, len(days), 7)]
    return render(
        request,
        "windows/calendar.html",
        {
            "view": view,
            "title": title,
            "weeks": weeks,
            "events": [e for e in events if e["kind"] != "window"],
            "policy": active,
            "zone": zone,
            "prev_date": prev_date.isoformat(),
            "next_date": next_date.isoformat(),
            "today": today.isoformat(),
            "anchor": anchor.isoformat(),
            "grid": week_columns(first, events, zone, today, clock.now())
            if view == "week"
            else None,
        },
    )


def _back(request, ticket):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(ticket_url(ticket.change_id))


@require_POST
def schedule(request, change_id):
    """Book a slot for an approved ticket, or move a scheduled one's (the picker's buttons and its
    free input)."""
    ticket = get_object_or_404(ChangeTicket.objects.select_related("feature"), change_id=change_id)
    if not rules.may_release(ticket, request.user):
        raise PermissionDenied(rules.PERMISSION_REASONS["schedule"])
    # The free input is wall-clock time in the policy's zone (the picker labels it so).
    form = ScheduleForm(
        request.POST, zone=policy.current_policy().zone, typed="planned_start_local"
    )
    if not form.is_valid():
        for error in form.error_sentences():
            messages.error(request, f"Not scheduled: {error}")
        return _back(request, ticket)
    planned_start = form.cleaned_data["planned_start"]
    try:
        ticket, warnings = ticket_schedule(
            ticket, acting_user=request.user, planned_start=planned_start
        )
    except TransitionRefused as refused:
        messages.error(request, f"Not scheduled: {refused.message}")
        return _back(request, ticket)
    messages.success(
        request,
        f"{ticket.change_id} scheduled: {policy.local_short(ticket.planned_start)} until "
        f"{policy.local_short(ticket.slot_ends_at)}.",
    )
    for warning in warnings:
        messages.warning(request, warning)
    return _back(request, ticket)
