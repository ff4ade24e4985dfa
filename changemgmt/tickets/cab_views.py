"""The CAB's pages: the daily agenda (the 10am standup) and the review with its checklist."""

import zoneinfo
from datetime import datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from changemgmt import clock, roles
from changemgmt.panels import collect

from . import rules, services, window_rules
from .forms import VoteForm
from .models import ChangeTicket, State
from .pages import (
    auditor_reading,
    eval_rows,
    render_page,
    reviewable,
    ticket_or_404,
)

CAB_TARGET = timedelta(days=1)  # one business day from submission to a CAB decision


def business_age(start: datetime, end: datetime, zone=None) -> timedelta:
    """Time between `start` and `end` that fell on Monday–Friday (in the policy's zone)."""
    zone = zone or zoneinfo.ZoneInfo(window_rules.policy_zone())
    start, end = start.astimezone(zone), end.astimezone(zone)
    total = timedelta()
    cursor = start
    while cursor < end:
        next_midnight = datetime.combine(
            cursor.date() + timedelta(days=1), datetime.min.time(), tzinfo=zone
        )
        segment_end = min(next_midnight, end)
        if cursor.weekday() < 5:
            total += segment_end - cursor
        cursor = segment_end
    return total


def _agenda_item(ticket, now):
    age = business_age(ticket.submitted_at or ticket.created_at, now)
    return {
        "ticket": ticket,
        "missing_seats": rules.quorum_missing_seats(ticket),
        "votes": rules.current_votes(ticket),
        "business_age": age,
        "business_hours": int(age.total_seconds() // 3600),
        "business_minutes": int(age.total_seconds() // 60),
        "overdue": age > CAB_TARGET,
    }


def cab_queue():
    return (
        ChangeTicket.objects.filter(state=State.SUBMITTED)
        .select_related("feature", "author", "release_manager")
        .order_by("submitted_at", "id")
    )


def _agenda_context(request):
    now = clock.now()
    retrospective = (
        ChangeTicket.objects.filter(retrospective_due=True)
        .exclude(state__in=[State.DRAFT, State.SUBMITTED])
        .select_related("feature", "author")
        .order_by("approved_at", "id")
    )
    return {
        "items": [_agenda_item(t, now) for t in cab_queue()],
        "retrospective": [
            {"ticket": t, "missing_seats": rules.quorum_missing_seats(t, retrospective=True)}
            for t in retrospective
        ],
        "now": now,
        "my_seats": services.seats_of(request.user),
    }


def cab_agenda(request):
    roles.require_human_reader(request.user, "change tickets")
    template = "tickets/_cab_agenda_items.html" if request.htmx else "tickets/cab_agenda.html"
    return render_page(request, template, _agenda_context(request))


def cab_agenda_items(request):
    roles.require_human_reader(request.user, "change tickets")
    return render_page(request, "tickets/_cab_agenda_items.html", _agenda_context(request))


# ----- CAB review -----


def _review_context(request, ticket) -> dict:
    retrospective = rules.retrospective_is_open(ticket)
    return {
        "ticket": ticket,
        "problems": rules.completeness_problems(ticket),
        "missing_seats": rules.quorum_missing_seats(ticket, retrospective=retrospective),
        "required_seats": rules.required_seats(ticket),
        "votes": rules.current_votes(ticket, retrospective=retrospective),
        "eval_rows": eval_rows(ticket),
        "reviewable": reviewable(ticket),
        "retrospective": retrospective,
        # The kill switch (with its freshness) and the ramp plan, from the apps that own them.
        "panels": (panels := collect("review_panel", request, ticket=ticket)),
        "killswitch": next(
            (p["context"] for p in panels if p["template"].startswith("killswitches/")), None
        ),
        "window": next(
            (p["context"] for p in panels if p["template"].startswith("windows/")), None
        ),
    }


def _cast(request, ticket, form, checklist_errors) -> bool:
    """Cast the form's vote; a refusal lands on the form (or beside the checklist): False."""
    try:
        services.vote_cast(
            ticket,
            acting_user=request.user,
            decision=form.cleaned_data["decision"],
            comment=form.cleaned_data["comment"],
            checklist=form.checklist(),
            seat=form.cleaned_data.get("seat"),
        )
    except services.VoteRefused as refused:
        if refused.field == "checklist":
            checklist_errors.append(str(refused))  # shown beside the checklist
        else:
            form.add_error(refused.field if refused.field in form.fields else None, str(refused))
    except PermissionDenied as denied:
        form.add_error(None, str(denied))
    except services.TransitionRefused as refused:
        form.add_error(None, " ".join(r for _, r in refused.reasons))
    else:
        return True
    return False


def _vote_recorded(ticket, retrospective) -> str:
    said = f"Vote recorded on {ticket.change_id}; it is {ticket.get_state_display().lower()}."
    if not retrospective:
        return said
    if not ticket.retrospective_due:
        return said + " The retrospective CAB review is complete."
    missing = rules.quorum_missing_seats(ticket, retrospective=True)
    return (
        said + f" The retrospective review still needs {len(missing)} of "
        f"{len(rules.required_seats(ticket))} seats: " + ", ".join(missing) + "."
    )


@require_http_methods(["GET", "POST"])
def cab_review(request, change_id):
    roles.require_human_reader(request.user, "change tickets")
    ticket = ticket_or_404(change_id)
    seats = services.seats_of(request.user)
    context = _review_context(request, ticket)
    if ticket.author_id == request.user.pk:
        context["refusal"] = "The author cannot vote on their own ticket."
        return render_page(request, "tickets/review.html", context, status=403)
    if not seats:
        if auditor_reading(request):
            context["notice"] = "Only a CAB seat may vote; you are reading the review."
            return render_page(request, "tickets/review.html", context)
        raise PermissionDenied("Only a CAB seat may review and vote.")
    form = VoteForm(request.POST or None, seats=seats)
    checklist_errors = []
    if (
        request.method == "POST"
        and form.is_valid()
        and _cast(request, ticket, form, checklist_errors)
    ):
        ticket.refresh_from_db()
        messages.success(request, _vote_recorded(ticket, context["retrospective"]))
        return redirect("tickets:detail", change_id=ticket.change_id)
    form.mark_invalid_fields()
    context["form"] = form
    context["checklist_errors"] = checklist_errors
    status = 400 if request.method == "POST" else 200
    return render_page(request, "tickets/review.html", context, status=status)
