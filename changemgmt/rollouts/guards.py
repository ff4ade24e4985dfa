"""The ramp's rules on ticket transitions, registered on import (RolloutsConfig.ready()).

`promote` carries the same guards for the sweeper and for a release manager's "promote now":
one path, one set of rules. The windows app registers the window/freeze guard on `promote`.
"""

from changemgmt import clock
from changemgmt.tickets.guards import register

from . import health, prometheus
from .models import GuardPolicy, RolloutPolicy
from .plans import guard_floor_problems, plan_of, plan_problems

# Never approve what `start` would refuse: the plan and guard rules also gate submit (and with it
# the Low tier's pre-approval) and the exec's emergency approval (issue 11 items 2 and 4).
APPROVING = ("submit", "emergency_approve")


@register("start")
def ramp_plan_is_valid(ticket):
    """The ramp plan is valid: caps, audience order, ends at 100%."""
    plan = plan_of(ticket)
    if not plan:
        return "The ticket has no ramp plan."
    problems = plan_problems(plan, ticket, RolloutPolicy.current().region_rings)
    if problems:
        return "The ramp plan is invalid: " + " ".join(problems)
    return None


def _ramp_before_final_stage(ticket):
    """The ramp, or None when promote is only the bookkeeping step into `deployed` (the ramp
    already carries the last stage's traffic)."""
    ramp = health.ramp_of(ticket)
    if ramp is None or ramp.current_index < 0:
        return "missing"
    if health.is_at_last_stage(ticket, ramp):
        return None
    return ramp


@register("promote")
def stage_bake_has_elapsed(ticket):
    """The current stage has baked for its full time."""
    ramp = _ramp_before_final_stage(ticket)
    if ramp == "missing":
        return "The ramp has not started."
    if ramp is None:
        return None
    ends = health.bake_ends_at(ticket, ramp)
    if ends is not None and clock.now() < ends:
        stage = health.current_stage(ticket)
        from .status import policy_zone  # status imports this module

        # In the window policy's zone, labelled, like the rest of the ramp's page.
        local = ends.astimezone(policy_zone())
        return (
            f"The {stage.percent}% stage bakes until {local:%a %Y-%m-%d %H:%M %Z} "
            f"({local.tzinfo}; {stage.bake_minutes} min)."
        )
    return None


@register("promote")
def stage_has_minimum_samples(ticket):
    """The current stage has the minimum number of health samples (no data is not healthy)."""
    ramp = _ramp_before_final_stage(ticket)
    if ramp is None or ramp == "missing":
        return None
    missing = health.missing_samples(ticket, ramp)
    if missing:
        needed = health.min_samples(ticket)
        named = ", ".join(f"{metric} ({count} more)" for metric, count in missing.items())
        return f"Not enough health samples ({needed} per metric per stage): {named}."
    return None


@register("promote")
def every_gating_guard_is_healthy(ticket):
    """Every gating guard is within its threshold in the current stage."""
    ramp = _ramp_before_final_stage(ticket)
    if ramp is None or ramp == "missing":
        return None
    finding = health.worst_finding(ticket, ramp)
    if finding:
        return f"Guard breached: {finding.guard.metric} {finding.value:g} > {finding.threshold:g}."
    return None


@register("start")
def guards_keep_the_tier_floor(ticket):
    """Medium and High: error rate and eval-score drift gate, no looser than the tier's policy."""
    guards = {g.metric: g for g in ticket.guards.all()}
    policies = {p.metric: p for p in GuardPolicy.for_tier(ticket.risk_tier)}
    problems = guard_floor_problems(ticket.risk_tier, guards, policies)
    if problems:
        return "The guards are looser than the tier's floor: " + " ".join(problems)
    return None


for _name in APPROVING:
    register(_name)(ramp_plan_is_valid)
    register(_name)(guards_keep_the_tier_floor)


@register("promote")
def prometheus_guards_answered(ticket):
    """Every Prometheus guard's latest query answered one number (a failed, empty or NaN query
    is inconclusive, never healthy)."""
    ramp = _ramp_before_final_stage(ticket)
    if ramp is None or ramp == "missing":
        return None
    unanswered = prometheus.unanswered_guards(ticket)
    if unanswered:
        named = "; ".join(f"{guard.metric}: {probe.last_error}" for guard, probe in unanswered)
        return f"Inconclusive Prometheus guards (held): {named}."
    return None


@register("resume")
def every_breach_is_acknowledged(ticket):
    """Every breach is acknowledged by a release manager before the ramp resumes."""
    open_breaches = ticket.breaches.filter(acknowledged_at__isnull=True).count()
    if open_breaches:
        return f"Acknowledge the breach first ({open_breaches} unacknowledged)."
    return None
