"""Ramp pages: the plan form, the live partials, and the release manager's manual controls.
Every action is a plain POST form (works without JavaScript) and calls the same services as the
API and the sweeper."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from changemgmt import roles
from changemgmt.refusals import TicketFrozen
from changemgmt.tickets import rules
from changemgmt.tickets.models import ChangeTicket
from changemgmt.tickets.pages import take_transition
from changemgmt.tickets.services import ticket_transition

from . import panels, services
from .forms import CONTROL_LABELS, AcknowledgeForm, GuardFormSet, StageFormSet, plan_from
from .models import Breach
from .plans import plan_of


def _ticket(change_id) -> ChangeTicket:
    return get_object_or_404(ChangeTicket.objects.select_related("feature"), change_id=change_id)


def _back(ticket):
    return redirect("tickets:detail", change_id=ticket.change_id)


def ticket_panel(request, change_id):
    """The ramp panel alone, for htmx's 30-second refresh (and readable without it)."""
    roles.require_human_reader(request.user, "change tickets")
    ticket = _ticket(change_id)
    return render(
        request,
        "rollouts/_ticket_panel.html",
        {"panel": panels.ticket_context(request, ticket)},
    )


def dashboard_panel(request):
    roles.require_human_reader(request.user, "change tickets")
    return render(
        request,
        "rollouts/_dashboard_panel.html",
        {"panel": panels.dashboard_context(request)},
    )


def _guard_initial(ticket):
    return [
        {
            "metric": g.metric,
            "threshold": g.threshold,
            "severe_threshold": g.severe_threshold,
            "observe_only": g.observe_only,
            "source": g.source,
            "query": g.query,
        }
        for g in ticket.guards.order_by("metric")
    ]


def plan_edit(request, change_id):
    roles.require_human_reader(request.user, "change tickets")
    ticket = _ticket(change_id)
    if ticket.author_id != request.user.pk:
        raise PermissionDenied("Only the ticket's author may edit its ramp plan.")
    frozen = ticket.state not in services.PLAN_EDITABLE_STATES
    status_code, plan_errors = 200, []
    if request.method == "POST" and not frozen:
        stages = StageFormSet(request.POST, prefix="stage")
        guards = GuardFormSet(request.POST, prefix="guard")
        if stages.is_valid() and guards.is_valid():
            try:
                services.ramp_plan_update(
                    ticket,
                    acting_user=request.user,
                    plan=plan_from(stages),
                    guards=[f.cleaned_data for f in guards if f.cleaned_data],
                    reason=(request.POST.get("reason") or "").strip()[:500],
                )
            except ValidationError as error:
                plan_errors = [m for messages_ in error.message_dict.values() for m in messages_]
            except TicketFrozen as frozen_now:  # submitted while the form was being filled in
                plan_errors = [str(frozen_now)]
            else:
                messages.success(request, "Ramp plan saved.")
                return _back(ticket)
        status_code = 400
    else:
        if request.method == "POST":
            status_code = 409  # frozen: nothing saved, the page says why
        stages = StageFormSet(
            prefix="stage",
            initial=[
                {
                    **stage,
                    "tenant_segments": ", ".join(stage["tenant_segments"]),
                    "regions": ", ".join(stage["regions"]),
                    "cohorts": ", ".join(stage["cohorts"]),
                }
                for stage in plan_of(ticket)
            ],
        )
        guards = GuardFormSet(prefix="guard", initial=_guard_initial(ticket))
    return render(
        request,
        "rollouts/plan_form.html",
        {
            "ticket": ticket,
            "stages": stages,
            "guards": guards,
            "frozen": frozen,
            "plan_frozen_reason": services.PLAN_FROZEN,
            "plan_errors": plan_errors,
        },
        status=status_code,
    )


@require_POST
def control(request, change_id, name):
    """Promote now / halt / resume / roll back, by the release manager: the ticket page's path
    (tickets.pages.take_transition), promote through the sweeper's promotion."""
    roles.require_human_reader(request.user, "change tickets")
    if name not in CONTROL_LABELS:
        raise Http404("No such control.")
    ticket = _ticket(change_id)
    if not rules.may_release(ticket, request.user):
        raise PermissionDenied("Only the release manager may steer the ramp.")

    def act(ticket, *, reason):
        if name == "promote":
            return services.rollout_promote_now(ticket, acting_user=request.user, reason=reason)
        return ticket_transition(ticket, name, acting_user=request.user, reason=reason)

    return take_transition(request, ticket, CONTROL_LABELS[name], act)


@require_POST
def acknowledge(request, change_id, pk):
    roles.require_human_reader(request.user, "change tickets")
    ticket = _ticket(change_id)
    if not rules.may_release(ticket, request.user):
        raise PermissionDenied("Only a release manager may acknowledge a breach.")
    breach = get_object_or_404(Breach, pk=pk, ticket=ticket)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Acknowledge refused: Note: " + " ".join(form.errors["note"]))
        return _back(ticket)
    try:
        services.breach_acknowledge(
            breach, acting_user=request.user, note=form.cleaned_data["note"]
        )
    except PermissionDenied as denied:
        messages.error(request, str(denied))
    except ValidationError as error:
        messages.error(request, "Acknowledge refused: " + " ".join(error.messages))
    else:
        messages.success(request, f"Breach acknowledged: {breach.sentence()}.")
    return _back(ticket)
