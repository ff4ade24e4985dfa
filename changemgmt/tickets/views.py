"""Ticket pages and CAB pages. Each view: fetch with an access check, validate, call the service,
redirect. Every action is a plain POST form; htmx only refreshes the CAB agenda."""

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, OuterRef, Subquery, Value, When
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from changemgmt import clock, roles
from changemgmt.audit.timeline import group_bookkeeping, ticket_timeline
from changemgmt.pagination import CappedCountPaginator
from changemgmt.panels import collect

from . import rules, services, transition_table
from .filters import TicketFilter
from .forms import CloseForm, ScheduleForm, TicketForm, eval_formset
from .models import CHECKLIST_ITEMS, TRANSITIONS, ChangeTicket
from .pages import auditor_reading as _auditor_reading
from .pages import eval_rows as _eval_rows
from .pages import render_page as _render
from .pages import reviewable as _reviewable
from .pages import take_transition, viewer_zone
from .pages import ticket_or_404 as _ticket

PAGE_SIZE = 25

TRANSITION_LABELS = {t.name: t.label for t in transition_table.TABLE}
CAB_DECISIONS = {"request_changes", "reject"}


# ----- list -----


TIER_RANK = Case(
    When(risk_tier="low", then=Value(0)),
    When(risk_tier="medium", then=Value(1)),
    When(risk_tier="high", then=Value(2)),
    default=Value(3),
)
STAGED_STATES = ("ramping", "halted")


def _current_stage_percent():
    """The percent of the stage a ramping (or halted) ticket is at, read through the reverse
    relations the rollouts app adds (tickets never imports rollouts)."""
    try:
        stages = ChangeTicket._meta.get_field("ramp_stages").related_model
    except FieldDoesNotExist:  # rollouts not installed: no stage column values
        return Value(None, output_field=IntegerField())
    current = stages.objects.filter(ticket=OuterRef("pk"), index=OuterRef("ramp__current_index"))
    return Case(
        When(state__in=STAGED_STATES, then=Subquery(current.values("percent")[:1])),
        default=Value(None),
        output_field=IntegerField(),
    )


def ticket_list(request):
    roles.require_human_reader(request.user, "change tickets")
    queryset = ChangeTicket.objects.select_related("feature", "author", "release_manager").annotate(
        tier_rank=TIER_RANK, stage_percent=_current_stage_percent()
    )
    filters = TicketFilter(request.GET or None, queryset=queryset)
    if not filters.is_bound:
        tickets = queryset
    elif filters.is_valid():
        tickets = filters.qs
    else:
        tickets = queryset.none()  # never pass the unfiltered list off as the filtered one
    # A sort picked in a column header comes from the filter; the newest first otherwise. The
    # id breaks ties so the pages of a sort never repeat or skip a row.
    ordering = (
        (*tickets.query.order_by, "-id") if tickets.query.order_by else ("-created_at", "-id")
    )
    page = CappedCountPaginator(tickets.order_by(*ordering), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "tickets/list.html",
        {
            "filter": filters,
            "page": page,
            "query": query.urlencode(),
            "now": clock.now(),
            "may_file": roles.has_role(request.user, roles.AUTHOR),
        },
    )


# ----- file and edit -----


def _apply_service_errors(form, error: ValidationError):
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            target = field if field in form.fields else None
            for message in messages_:
                form.add_error(target, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _ticket_form_page(request, *, ticket=None):
    instance = ticket if ticket is not None else ChangeTicket()
    if request.method == "POST":
        form = TicketForm(request.POST, instance=instance)
        evals = eval_formset(ticket, data=request.POST)
        if form.is_valid() and evals.is_valid():
            try:
                if ticket is None:
                    saved = services.ticket_create(
                        acting_user=request.user,
                        data=form.service_data(),
                        eval_deltas=evals.rows(),
                    )
                    messages.success(request, f"{saved.change_id} filed as a draft.")
                else:
                    saved = services.ticket_update(
                        ticket,
                        acting_user=request.user,
                        data=form.service_data(),
                        eval_deltas=evals.rows(),
                    )
                    messages.success(request, f"{saved.change_id} saved.")
                return redirect("tickets:detail", change_id=saved.change_id)
            except ValidationError as error:
                _apply_service_errors(form, error)
    else:
        form = TicketForm(instance=instance)
        evals = eval_formset(ticket)
    form.mark_invalid_fields()
    for row in evals.forms:
        row.mark_invalid_fields()
    status = 400 if request.method == "POST" else 200
    return _render(
        request,
        "tickets/form.html",
        {"form": form, "evals": evals, "ticket": ticket},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def ticket_new(request):
    if not roles.has_role(request.user, roles.AUTHOR):
        refusal = "Only an author may file a change ticket."
        if _auditor_reading(request):
            return _read_only_form(request, None, refusal)
        raise PermissionDenied(refusal)
    return _ticket_form_page(request)


def _read_only_form(request, ticket, refusal):
    form = TicketForm(instance=ticket if ticket is not None else ChangeTicket())
    return _render(
        request,
        "tickets/form.html",
        {"form": form, "evals": eval_formset(ticket), "ticket": ticket, "read_only": refusal},
    )


@require_http_methods(["GET", "POST"])
def ticket_edit(request, change_id):
    roles.require_human_reader(request.user, "change tickets")
    ticket = _ticket(change_id)
    if ticket.author_id != request.user.pk:
        refusal = "Only the ticket's author may edit it."
        if _auditor_reading(request):
            return _read_only_form(request, ticket, refusal)
        raise PermissionDenied(refusal)
    if not ticket.is_editable:
        # The record is written before the deploy, never after (the article's common mistakes).
        return _render(request, "tickets/frozen.html", {"ticket": ticket}, status=409)
    try:
        return _ticket_form_page(request, ticket=ticket)
    except services.TicketFrozen:
        # Submitted by another tab between the page load and the save.
        return _render(request, "tickets/frozen.html", {"ticket": _ticket(change_id)}, status=409)


# ----- detail -----


def _actions(ticket, user):
    actions = []
    for name in services.offered_transitions(ticket, user):
        # Guards that judge what the person types into the action's own form (a reason, the
        # planned start, the review notes): the button stays enabled and the service rules on it.
        declared = transition_table.BY_NAME[name]
        reasons = [
            reason
            for guard_name, reason in services.transition_refusals(ticket, name, user)
            if guard_name not in declared.input_guards
        ]
        actions.append(
            {
                "name": name,
                "label": "Move the slot"
                if name == "schedule" and ticket.state == "scheduled"
                else declared.label,
                "reasons": reasons,
                "needs_reason": declared.reason_required,
                "danger": declared.danger,
            }
        )
    return actions


def _cab_seats(ticket):
    """Each seat that counts for this ticket's quorum, with its current-round vote (if any)."""
    votes = rules.current_votes(ticket)
    missing = set(rules.quorum_missing_seats(ticket))
    seats = list(rules.required_seats(ticket))
    seats += [seat for seat in votes if seat not in seats]  # an extra seat that voted anyway
    return [
        {
            "seat": seat,
            "label": roles.ROLE_LABELS.get(seat, seat),
            "vote": votes.get(seat),
            "missing": seat in missing,
        }
        for seat in seats
    ]


def ticket_detail(request, change_id):
    roles.require_human_reader(request.user, "change tickets")
    ticket = _ticket(change_id)
    seats = services.seats_of(request.user)
    retro_votes = list(ticket.votes.select_related("voter").filter(retrospective=True))
    return _render(
        request,
        "tickets/detail.html",
        {
            "ticket": ticket,
            "eval_rows": _eval_rows(ticket),
            "problems": rules.completeness_problems(ticket) if ticket.is_editable else {},
            "retro_votes": retro_votes,
            "retro_missing": rules.quorum_missing_seats(ticket, retrospective=True)
            if rules.retrospective_is_open(ticket)
            else [],
            "retro_required": rules.required_seats(ticket),
            "cab_seats": _cab_seats(ticket),
            "missing_seats": rules.quorum_missing_seats(ticket),
            "actions": _actions(ticket, request.user),
            "may_review": bool(seats)
            and ticket.author_id != request.user.pk
            and _reviewable(ticket),
            "may_edit": ticket.is_editable and ticket.author_id == request.user.pk,
            "timeline": group_bookkeeping(ticket_timeline(ticket)),
            "panels": collect("ticket_panel", request, ticket=ticket),
            "checklist_labels": CHECKLIST_ITEMS,
        },
    )


# ----- transitions -----


def _transition_params(request, name):
    """The inputs a transition takes from the page, or raise ValueError with what is wrong."""
    if name == "schedule":
        form = ScheduleForm(request.POST, zone=viewer_zone(request))
        if not form.is_valid():
            raise ValueError("Planned start: " + " ".join(form.error_sentences()))
        return {"planned_start": form.cleaned_data["planned_start"]}
    if name == "emergency_approve" and request.POST.get("confirm") != "on":
        raise ValueError(
            "Tick the confirmation: an emergency approval skips the CAB and the release window."
        )
    if name == "close":
        form = CloseForm(request.POST)
        if not form.is_valid():
            raise ValueError(" ".join(m for ms in form.errors.values() for m in ms))
        return {
            "review_notes": form.cleaned_data["review_notes"].strip(),
            "metrics_held": form.cleaned_data["metrics_held"],
        }
    return {}


def _take(request, name):
    """What the ticket page's action `name` does with the reason and its inputs."""

    def act(ticket, *, reason, **params):
        if name in CAB_DECISIONS:
            # A CAB member's "request changes" / "reject" is a vote: recorded with its seat, then
            # the service takes the transition (one path with the review page).
            services.vote_cast(ticket, acting_user=request.user, decision=name, comment=reason)
            ticket.refresh_from_db()
            return ticket
        if name == "schedule":  # one booking path with the window picker and the API
            ticket, warnings = services.ticket_schedule(
                ticket, acting_user=request.user, reason=reason, **params
            )
            for warning in warnings:
                messages.warning(request, warning)
            return ticket
        return services.ticket_transition(
            ticket, name, acting_user=request.user, reason=reason, **params
        )

    return act


@require_POST
def ticket_transition(request, change_id, name):
    roles.require_human_reader(request.user, "change tickets")
    if name not in TRANSITIONS:
        raise Http404("No such transition.")
    return take_transition(
        request,
        _ticket(change_id),
        TRANSITION_LABELS[name],
        _take(request, name),
        inputs=lambda request: _transition_params(request, name),
        done=lambda ticket: f"{ticket.change_id} is now {ticket.get_state_display().lower()}.",
    )


# ----- CAB agenda -----
