"""The "ramps" section of the gateway policy (GET /api/v1/gateway-policy).

A halted ramp holds its traffic; rolled-back and deployed ones are absent (the candidate is dropped,
or it is simply the deployed version now).
"""

from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket


def candidate_of(ticket) -> dict:
    return {
        "prompt_version": ticket.prompt_version or None,
        "candidate_model": ticket.candidate_model or None,
        "config": ticket.pr_url or None,
        "classification": ticket.classification,
    }


def active_ramps() -> list[dict]:
    ramps = []
    tickets = (
        ChangeTicket.objects.filter(state__in=ACTIVE_RAMP_STATES)
        .select_related("feature", "ramp")
        .order_by("change_id")
    )
    for ticket in tickets:
        ramp = getattr(ticket, "ramp", None)
        if ramp is None or ramp.current_index < 0:
            continue
        stage = ticket.ramp_stages.filter(index=ramp.current_index).first()
        if stage is None:
            continue
        ramps.append(
            {
                "feature": ticket.feature.slug,
                "change_id": ticket.change_id,
                "candidate": candidate_of(ticket),
                "traffic_percent": stage.percent,
                "audience": stage.audience(),
                "stage": stage.index + 1,
                "stages": ticket.ramp_stages.count(),
                "state": ticket.state,
            }
        )
    return ramps
