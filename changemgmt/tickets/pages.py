"""What every ticket page shares (the ticket pages in views.py, the CAB's in cab_views.py and the
ramp controls in rollouts): the access check, fetching a ticket by change ID, the viewer's zone and
rendering in it, the small readings of a ticket both kinds of page show, and taking a transition
from a page."""

import functools
import zoneinfo
from urllib.parse import unquote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from changemgmt import roles
from changemgmt.refusals import TransitionRefused, VoteRefused

from . import rules, window_rules
from .forms import ReasonForm
from .models import ChangeTicket, State


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def viewer_zone(request) -> zoneinfo.ZoneInfo:
    """The viewer's zone (a `tz` cookie the browser may set), else the window policy's zone
    (DESIGN.md): times are read and shown there unless the viewer set one."""
    name = unquote(request.COOKIES.get("tz", ""))
    # Only real zone names: ZoneInfo() of a directory ("America") raises IsADirectoryError.
    return zoneinfo.ZoneInfo(name if name in _known_zones() else window_rules.policy_zone())


def auditor_reading(request) -> bool:
    """The auditor reads every page (DESIGN.md) but changes nothing: GET only."""
    return request.method == "GET" and roles.has_role(request.user, roles.AUDITOR)


def ticket_or_404(change_id) -> ChangeTicket:
    # The route's `change_id` converter let only a change ID through.
    return get_object_or_404(
        ChangeTicket.objects.select_related("feature", "author", "release_manager"),
        change_id=change_id,
    )


def render_page(request, template, context, status=200):
    with timezone.override(viewer_zone(request)):
        context.setdefault("viewer_zone", str(viewer_zone(request)))
        context.setdefault("policy_zone", window_rules.policy_zone())
        context.setdefault("window_text", window_rules.window_text())
        return render(request, template, context, status=status)


def eval_rows(ticket):
    """(row, regressed beyond the tier's tolerance) for the eval-delta table."""
    regressions = {d.pk for d in rules.regressions_beyond_tolerance(ticket)}
    return [(d, d.pk in regressions) for d in ticket.eval_deltas.all()]


def reviewable(ticket) -> bool:
    """A CAB seat reviews a submitted ticket, or an emergency one whose retrospective is due."""
    return ticket.state == State.SUBMITTED or (
        ticket.retrospective_due and ticket.state not in (State.DRAFT, State.SUBMITTED)
    )


def take_transition(request, ticket, label: str, act, *, inputs=None, done=None):
    """The one way a page takes a transition (the ticket page's actions, the ramp controls): read
    the reason whole (refused, never cut), then the transition's own inputs (`inputs(request)`,
    raising ValueError with what is wrong), call `act(ticket, reason=…, **inputs)` and answer on
    the ticket page: the refusal, or `done(ticket)`. A role that may not take it gets the 403."""
    back = redirect("tickets:detail", change_id=ticket.change_id)
    try:
        form = ReasonForm(request.POST)
        if not form.is_valid():
            raise ValueError("Reason: " + " ".join(form.errors["reason"]))
        params = inputs(request) if inputs is not None else {}
    except ValueError as error:
        messages.error(request, f"{label} refused: {error}")
        return back
    try:
        ticket = act(ticket, reason=form.cleaned_data["reason"], **params)
    except VoteRefused as refused:
        messages.error(request, f"{label} refused: {refused}")
    except ValidationError as error:  # an input the model refuses (e.g. over-long notes)
        messages.error(request, f"{label} refused: " + " ".join(error.messages))
    except TransitionRefused as refused:
        messages.error(request, f"{label} refused: " + " ".join(r for _, r in refused.reasons))
    else:
        messages.success(request, done(ticket) if done else f"{label}: done.")
    return back
