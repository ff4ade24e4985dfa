"""Ramp plans as data: the tier default, and the rules a plan must keep (blast-radius caps).

A plan is a list of dicts {percent, bake_minutes, tenant_segments, regions, cohorts}. The same
rules check the plan form, the `start` guard and the hypothesis test. An empty audience list means
"not restricted" (everyone), so once a stage is unrestricted every later stage must be too.
"""

from changemgmt.catalog.models import Segment, TierPolicy, default_ramp_for

AUDIENCE_KEYS = ("tenant_segments", "regions", "cohorts")


def default_plan(tier: str) -> list[dict]:
    stages = TierPolicy.for_tier(tier).default_ramp or default_ramp_for(tier)
    return [
        {
            "percent": int(stage["percent"]),
            "bake_minutes": int(stage.get("bake_minutes", 0)),
            "tenant_segments": list(stage.get("tenant_segments", [])),
            "regions": list(stage.get("regions", [])),
            "cohorts": list(stage.get("cohorts", [])),
        }
        for stage in stages
    ]


def projected_users(users_served: int, percent: int) -> int:
    return users_served * percent // 100


def largest_canary_percent(ticket) -> int:
    """The most traffic a stage before the last may carry: the ticket's cap, and no more users
    than it says it affects (0 when not even 1% fits)."""
    cap = min(ticket.max_traffic_percent or 0, 100)
    users_served = ticket.feature.users_served
    while cap >= 1 and projected_users(users_served, cap) > (ticket.users_affected or 0):
        cap -= 1
    return max(cap, 0)


def fit_plan(plan: list[dict], limit: int) -> list[dict]:
    """`plan` with every canary stage brought down to `limit`%; a stage that then no longer grows
    is dropped (the first of them keeps its bake). 1/10/50/100 at a 5% cap is 1/5/100."""
    fitted = []
    for stage in plan[:-1]:
        stage = {**stage, "percent": min(stage["percent"], limit)}
        if not fitted or stage["percent"] > fitted[-1]["percent"]:
            fitted.append(stage)
    return [*fitted, plan[-1]] if plan else []


def fitted_default_plan(ticket) -> list[dict]:
    """The tier's default plan fitted to the ticket's blast radius (issue 11 item 4): never a
    default that `start` would refuse. Unchanged when even 1% is too much (submit then refuses
    with the rule)."""
    plan = default_plan(ticket.risk_tier)
    limit = largest_canary_percent(ticket)
    return fit_plan(plan, limit) if limit >= 1 else plan


def is_a_default_plan(plan: list[dict], tier: str) -> bool:
    """The tier's default as it is or fitted to some cap: not a plan the author wrote."""
    default = default_plan(tier)
    return plan == default or any(plan == fit_plan(default, c) for c in range(1, 101))


def _ring_problem(values: list[str], rings: list[list[str]], label: str) -> str | None:
    """A stage reaching ring k must include every member of the rings before k."""
    ring_of = {member: k for k, ring in enumerate(rings) for member in ring}
    unknown = [v for v in values if v not in ring_of]
    if unknown:
        return f"unknown {label} {', '.join(unknown)} (known: {', '.join(ring_of)})"
    if not values:
        return None
    widest = max(ring_of[v] for v in values)
    skipped = [m for ring in rings[:widest] for m in ring if m not in values]
    if skipped:
        order = " → ".join(", ".join(ring) for ring in rings)
        return f"{label} skip the ring order ({order}): add {', '.join(skipped)} first"
    return None


def plan_problems(plan: list[dict], ticket, region_rings: list[list[str]]) -> list[str]:
    """Every rule the plan breaks, as sentences; [] when the plan is valid for `ticket`."""
    problems = []
    if len(plan) < 2:
        return ["A ramp needs at least one canary stage before 100%."]
    if plan[-1]["percent"] != 100:
        problems.append("The plan must end at 100%.")
    cap = ticket.max_traffic_percent
    users_served = ticket.feature.users_served
    segment_rings = [[segment] for segment in Segment.order()]
    for i, stage in enumerate(plan):
        n, percent, last = i + 1, stage["percent"], i == len(plan) - 1
        if not 1 <= percent <= 100:
            problems.append(f"Stage {n}: traffic must be between 1 and 100%.")
        if i and percent <= plan[i - 1]["percent"]:
            problems.append(f"Stage {n}: traffic must grow ({plan[i - 1]['percent']}% before it).")
        if not last:
            if percent > cap:
                problems.append(
                    f"Stage {n}: {percent}% exceeds the ticket's max traffic of {cap}% "
                    "(only the last stage may)."
                )
            users = projected_users(users_served, percent)
            if users > ticket.users_affected:
                problems.append(
                    f"Stage {n}: {percent}% projects {users:,} users, over the ticket's "
                    f"{ticket.users_affected:,} users affected."
                )
            if stage["bake_minutes"] < 1:
                problems.append(f"Stage {n}: a canary stage needs a bake time.")
        for key, rings, label in (
            ("tenant_segments", segment_rings, "tenant segments"),
            ("regions", region_rings, "regions"),
        ):
            problem = _ring_problem(stage.get(key, []), rings, label)
            if problem:
                problems.append(f"Stage {n}: {problem}.")
        if i:
            before = plan[i - 1]
            for key in AUDIENCE_KEYS:
                previous, current = set(before.get(key, [])), set(stage.get(key, []))
                shrinks = (not previous and current) or (current and not previous <= current)
                if shrinks:
                    lost = sorted(previous - current) or ["everyone"]
                    problems.append(
                        f"Stage {n}: the audience shrinks ({key.replace('_', ' ')} loses "
                        f"{', '.join(lost)}); audiences only grow."
                    )
    return problems


def plan_of(ticket) -> list[dict]:
    return [
        {
            "percent": s.percent,
            "bake_minutes": s.bake_minutes,
            "tenant_segments": list(s.tenant_segments),
            "regions": list(s.regions),
            "cohorts": list(s.cohorts),
        }
        for s in ticket.ramp_stages.order_by("index")
    ]


# The tier's floor under the author's guards (issue 11 item 2): for Medium and High, error rate and
# eval-score drift always gate, no looser than the tier's policy. Other guards, and observe-only
# ones, only come on top: the author may tighten, never switch the ramp's eyes off.
FLOOR_TIERS = ("medium", "high")
FLOOR_METRICS = ("error_rate", "eval_score_drift")


def guard_floor_problems(tier: str, guards: dict, policies: dict) -> list[str]:
    """Sentences for every floor the guards break. `guards` and `policies` map metric -> an object
    with threshold, severe_threshold and observe_only (a Guard and a GuardPolicy)."""
    if tier not in FLOOR_TIERS:
        return []
    problems = []
    for metric in FLOOR_METRICS:
        guard, policy = guards.get(metric), policies[metric]
        label = metric.replace("_", " ")
        if guard is None or guard.observe_only:
            problems.append(
                f"The {label} guard must gate a {tier.title()} tier ramp (observe-only guards "
                "only come on top of the tier's policy)."
            )
            continue
        if guard.threshold > policy.threshold:
            problems.append(
                f"The {label} threshold {guard.threshold:g} is looser than the {tier} tier "
                f"policy's {policy.threshold:g}."
            )
        floor_severe = policy.severe_threshold
        if floor_severe is not None and (
            guard.severe_threshold is None or guard.severe_threshold > floor_severe
        ):
            have = "none" if guard.severe_threshold is None else f"{guard.severe_threshold:g}"
            problems.append(
                f"The {label} roll-back threshold ({have}) is looser than the {tier} tier "
                f"policy's {floor_severe:g}."
            )
    return problems


def _number(value) -> str:
    return "never" if value is None else f"{value:g}"


def guard_differences(guard, policy) -> list[str]:
    """How `guard` differs from the tier default `policy` (for the CAB review)."""
    found = []
    if guard.threshold != policy.threshold:
        found.append(f"halt above {guard.threshold:g} (default {policy.threshold:g})")
    if guard.severe_threshold != policy.severe_threshold:
        found.append(
            f"roll back above {_number(guard.severe_threshold)} "
            f"(default {_number(policy.severe_threshold)})"
        )
    if guard.observe_only != policy.observe_only:
        found.append("observe only" if guard.observe_only else "gating (default observe only)")
    return found
