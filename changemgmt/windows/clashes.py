"""Freezes saved over slots already booked (issue 11, item 7).

The schedule guard keeps a new booking out of every freeze, but a freeze added (or moved) later can
land on a slot booked before it: the ticket cannot start there, or its ramp would start into a
lockdown. The clash is shown on the ticket page and the dashboard, and the ticket's release
manager is told when the freeze is saved — whatever saved it (admin, seed, shell): a signal on the
Freeze row and on its feature scope, checked once the save has committed.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import m2m_changed, post_save

from changemgmt import clock, roles
from changemgmt.audit.models import Notification
from changemgmt.audit.notify import notify

from . import policy
from .models import Freeze

CLASH_EVENT = "freeze.clash"


def freeze_clashes(ticket, freezes=None) -> list[Freeze]:
    """The freezes covering `ticket` that overlap its booked slot. Only a scheduled standard
    change clashes: an emergency runs any time, and a running ramp is held by the lockdown."""
    if ticket.state != "scheduled" or policy.is_emergency(ticket):
        return []
    slot = policy.booked_slot(ticket)
    if slot is None:
        return []
    if freezes is None:
        return policy.freezes_overlapping(ticket, slot.start, slot.end)
    return [
        f
        for f in freezes
        if slot.overlaps(f.starts_at, f.ends_at) and policy.freeze_covers(f, ticket)
    ]


def clash_advice(ticket, freeze, active=None) -> str:
    """The sentence the ticket page, the dashboard and the notice share: which freeze, which
    ticket, and what the release manager should do."""
    active = active or policy.current_policy()
    slot = policy.booked_slot(ticket)
    who = ticket.release_manager.username if ticket.release_manager else "The release manager"
    if freeze.starts_at <= slot.start:
        what = f"{ticket.change_id} cannot start at its booked {policy.local_short(slot.start)}"
    else:
        what = (
            f"{ticket.change_id}'s booked slot ({policy.local_short(slot.start, active)} – "
            f"{policy.local_short(slot.end, active)}) runs into it, and its promotions would wait "
            "out the freeze"
        )
    free = policy.open_slots(ticket, clock.now(), 21, active)
    hint = f" (next open slot: {policy.local_short(free[0].start, active)})" if free else ""
    return (
        f"Freeze '{freeze.name}' ({policy.local(freeze.starts_at, active)} until "
        f"{policy.local(freeze.ends_at, active)}: {freeze.reason}) was added over a booked slot: "
        f"{what}. {who}: move the slot outside the freeze{hint}, or cancel the ticket."
    )


def tickets_clashing_with(freeze) -> list:
    from changemgmt.tickets.models import ChangeTicket

    candidates = (
        ChangeTicket.objects.filter(state="scheduled", planned_start__lt=freeze.ends_at)
        .select_related("feature", "release_manager")
        .order_by("planned_start", "id")
    )
    return [t for t in candidates if freeze_clashes(t, [freeze])]


def all_clashes() -> list[tuple]:
    """(ticket, freeze) for every scheduled ticket a freeze now overlaps (the dashboard's)."""
    from changemgmt.tickets.models import ChangeTicket

    freezes = list(Freeze.objects.filter(ends_at__gt=clock.now()).prefetch_related("features"))
    if not freezes:
        return []
    latest_end = max(f.ends_at for f in freezes)
    tickets = (
        ChangeTicket.objects.filter(state="scheduled", planned_start__lt=latest_end)
        .select_related("feature", "release_manager")
        .order_by("planned_start", "id")
    )
    return [(t, f) for t in tickets for f in freeze_clashes(t, freezes)]


def _recipients(ticket) -> list[str]:
    """The ticket's release manager; without one (or without an address), the release_manager
    group."""
    manager = ticket.release_manager
    if manager is not None and manager.email:
        return [manager.email]
    return list(
        get_user_model()
        .objects.filter(groups__name=roles.RELEASE_MANAGER, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )


def _payload(ticket, freeze) -> dict:
    return {
        "freeze": freeze.pk,
        "freeze_name": freeze.name,
        "freeze_starts_at": freeze.starts_at.isoformat(),
        "freeze_ends_at": freeze.ends_at.isoformat(),
        "change_id": ticket.change_id,
        "planned_start": ticket.planned_start.isoformat(),
    }


def notify_clashes(freeze) -> list:
    """Tell the release manager of each ticket `freeze` lands on; a save that changes neither
    the freeze's dates nor the booking tells nobody twice. Returns the notifications sent."""
    sent = []
    for ticket in tickets_clashing_with(freeze):
        payload = _payload(ticket, freeze)
        told = Notification.objects.filter(event=CLASH_EVENT, ticket=ticket).values_list(
            "payload", flat=True
        )
        if payload in list(told):
            continue
        advice = clash_advice(ticket, freeze)
        notification = notify(
            CLASH_EVENT,
            subject=f"{ticket.change_id}: freeze '{freeze.name}' lands on its booked slot",
            body=f"{advice}\nTicket: {ticket.change_id} {ticket.title}",
            recipients=_recipients(ticket),
            ticket=ticket,
            payload=payload,
        )
        if notification is not None:
            sent.append(notification)
    return sent


def _check_after_commit(freeze_pk):
    def check():
        with transaction.atomic():
            freeze = Freeze.objects.filter(pk=freeze_pk).prefetch_related("features").first()
            if freeze is not None:
                notify_clashes(freeze)

    transaction.on_commit(check)


def _on_freeze_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        _check_after_commit(instance.pk)


def _on_freeze_scope_changed(sender, instance, action, **kwargs):
    if action in ("post_add", "post_remove", "post_clear") and isinstance(instance, Freeze):
        _check_after_commit(instance.pk)


def connect_freeze_clash_notices():
    post_save.connect(_on_freeze_saved, sender=Freeze, dispatch_uid="freeze_clash_saved")
    m2m_changed.connect(
        _on_freeze_scope_changed,
        sender=Freeze.features.through,
        dispatch_uid="freeze_clash_scope",
    )
