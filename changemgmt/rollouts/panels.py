"""The ramp's part of the ticket page and of the dashboard (see changemgmt.panels)."""

from django.db.models import Case, When

from changemgmt import roles
from changemgmt.tickets import rules
from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket, State

from . import status
from .forms import CONTROL_LABELS
from .models import GuardPolicy
from .plans import default_plan, guard_differences, is_a_default_plan, plan_of
from .projection_view import projection_context
from .services import PLAN_EDITABLE_STATES

SHOWN_STATES = {State.RAMPING, State.HALTED, State.DEPLOYED, State.ROLLED_BACK, State.CLOSED}


def ticket_context(request, ticket) -> dict:
    panel = status.summary(ticket, with_charts=ticket.state in SHOWN_STATES)
    may_release = rules.may_release(ticket, request.user)
    panel.update(
        {
            "may_edit_plan": ticket.state in PLAN_EDITABLE_STATES
            and ticket.author_id == request.user.pk,
            "plan_frozen": ticket.state not in PLAN_EDITABLE_STATES,
            "may_release": may_release,
            "breaches": list(ticket.breaches.select_related("stage", "acknowledged_by")),
            "controls": [
                (name, label)
                for name, label in CONTROL_LABELS.items()
                if may_release and _offered(ticket, name)
            ],
            "live": ticket.state in ACTIVE_RAMP_STATES,
            "projection": projection_context(ticket),
            "plan_fitted": _plan_fitted(ticket),
        }
    )
    # The CAB sees every guard the author moved off the tier's default (issue 11 item 2).
    defaults = {p.metric: p for p in GuardPolicy.for_tier(ticket.risk_tier)}
    for row in panel["guards"]:
        policy = defaults.get(row["guard"].metric)
        row["differs"] = guard_differences(row["guard"], policy) if policy else []
    return panel


def _plan_fitted(ticket) -> bool:
    """The tier's default plan, brought down to the ticket's cap (say so: it is not the default
    the policy page shows)."""
    plan = plan_of(ticket)
    return plan != default_plan(ticket.risk_tier) and is_a_default_plan(plan, ticket.risk_tier)


def _offered(ticket, name) -> bool:
    return {
        "promote": ticket.state == State.RAMPING,
        "halt": ticket.state == State.RAMPING,
        "resume": ticket.state == State.HALTED,
        "roll_back": ticket.state in (State.RAMPING, State.HALTED, State.DEPLOYED),
    }[name]


def ticket_panel(request, ticket):
    if not roles.is_human_reader(request.user):
        return None
    return ticket_context(request, ticket)


def review_panel(request, ticket):
    """The plan and guards the CAB approves (the blast radius, stage by stage)."""
    return ticket_panel(request, ticket)


DASHBOARD_LIMIT = 20


def dashboard_context(request) -> dict:
    """Halted ramps first (they need someone), then the most recently started; bounded, so the
    dashboard stays fast with hundreds of ramps in flight."""
    active = ChangeTicket.objects.filter(state__in=ACTIVE_RAMP_STATES)
    tickets = active.select_related("feature").order_by(
        Case(When(state=State.HALTED, then=0), default=1), "-started_at", "-pk"
    )[:DASHBOARD_LIMIT]
    return {
        "ramps": [status.summary(ticket) for ticket in tickets],
        "total": active.count(),
        "limit": DASHBOARD_LIMIT,
    }


def dashboard_panel(request):
    if not roles.is_human_reader(request.user):
        return None
    return dashboard_context(request)
