"""The "ramps" section of the gateway policy (GET /api/v1/gateway-policy).

A halted ramp holds its traffic; rolled-back and deployed ones are absent (the candidate is dropped,
or it is simply the deployed version now).
"""

from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket

from .models import RampStage


def candidate_of(ticket) -> dict:
    return {
        "prompt_version": ticket.prompt_version or None,
        "candidate_model": ticket.candidate_model or None,
        "config": ticket.pr_url or None,
        "classification": ticket.classification,
    }


def active_ramps() -> list[dict]:
    """Built on every policy version (each ramp transition bumps it): a fixed number of queries,
    whatever the number of active ramps."""
    tickets = (
        ChangeTicket.objects.filter(state__in=ACTIVE_RAMP_STATES, ramp__current_index__gte=0)
        .select_related("feature", "ramp")
        .order_by("change_id")
    )
    tickets = list(tickets)
    stages = {}
    for stage in RampStage.objects.filter(ticket__in=[t.pk for t in tickets]):
        stages.setdefault(stage.ticket_id, {})[stage.index] = stage
    ramps = []
    for ticket in tickets:
        plan = stages.get(ticket.pk, {})
        stage = plan.get(ticket.ramp.current_index)
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
                "stages": len(plan),
                "state": ticket.state,
            }
        )
    return ramps
