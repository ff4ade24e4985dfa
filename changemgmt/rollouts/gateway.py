"""The "ramps" section of the gateway policy (GET /api/v1/gateway-policy).

A halted ramp holds its traffic; rolled-back and deployed ones are absent (the candidate is dropped,
or it is simply the deployed version now, named in the "live" section).
"""

from changemgmt.catalog.models import AIFeature
from changemgmt.tickets.models import ACTIVE_RAMP_STATES, ChangeTicket, State

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


def live_versions() -> dict:
    """What is live per feature: the deployed prompt version and model, and the change that put
    each there (the "baseline" a gateway serves outside a ramp). A feature nothing was deployed
    to yet names nulls: the gateway keeps its own configuration.

    A change rolled back after it deployed is not live; the one deployed before it is again.
    """
    live = {
        slug: {"prompt_version": None, "model": None, "change_id": None, "deployed_at": None}
        for slug in AIFeature.objects.order_by("slug").values_list("slug", flat=True)
    }
    deployed = (
        ChangeTicket.objects.filter(
            deployed_at__isnull=False,
            rolled_back_at__isnull=True,
            state__in=[State.DEPLOYED, State.CLOSED],
        )
        .order_by("deployed_at", "pk")
        .values_list(
            "feature__slug", "prompt_version", "candidate_model", "change_id", "deployed_at"
        )
    )
    for slug, prompt_version, model, change_id, deployed_at in deployed.iterator():
        entry = live.setdefault(
            slug, {"prompt_version": None, "model": None, "change_id": None, "deployed_at": None}
        )
        # Later deployments win, field by field: a prompt change keeps the model a swap put live.
        entry["prompt_version"] = prompt_version or entry["prompt_version"]
        entry["model"] = model or entry["model"]
        entry["change_id"] = change_id
        entry["deployed_at"] = deployed_at.isoformat()
    return live
