"""The ticket's rules: guards (check(ticket) -> reason | None) and who may take each transition.

Guards are pure functions of the ticket (and the clock); their names say the rule and their
return value is the sentence the user sees when the rule refuses.
"""

import re

from changemgmt import roles
from changemgmt.audit.recording import is_system
from changemgmt.catalog.models import AIFeature, AIModel, RiskTier, Tenant, TierPolicy

from .transition_table import TABLE

KILL_SWITCH_PATH = re.compile(r"^(feature|model|tenant):([A-Za-z0-9][A-Za-z0-9._-]*)$")

# "Feels reversible" is not a plan (the article's common mistakes).
NON_PLANS = {
    "",
    "n/a",
    "na",
    "none",
    "tbd",
    "revert",
    "rollback",
    "roll back",
    "redeploy",
    "it is reversible",
    "feels reversible",
    "reversible",
    "revert the pr",
}
MIN_ROLLBACK_PLAN_CHARS = 40


def required_seats(ticket) -> list[str]:
    """The CAB seats whose approval makes quorum for this ticket's tier and audience."""
    seats = [roles.CAB_PLATFORM, roles.CAB_FEATURE]
    if ticket.risk_tier == RiskTier.HIGH:
        seats.append(roles.CAB_RISK)
    if ticket.feature.customer_facing:
        seats.append(roles.CAB_CUSTOMER)
    return seats


def current_votes(ticket, *, retrospective=False):
    """The latest vote of each seat in the ticket's current review round (`retrospective`: in the
    retrospective review of an emergency change, which is a review of its own)."""
    latest = {}
    for vote in ticket.votes.filter(round=ticket.cab_round, retrospective=retrospective).order_by(
        "created_at", "id"
    ):
        latest[vote.seat] = vote
    return latest


def approving_seats(ticket, *, retrospective=False) -> dict[str, object]:
    """Seat -> approving vote, counting each person once (one person fills one seat)."""
    seats, voters = {}, set()
    for seat, vote in current_votes(ticket, retrospective=retrospective).items():
        if vote.decision == "approve" and vote.voter_id not in voters:
            seats[seat] = vote
            voters.add(vote.voter_id)
    return seats


def quorum_missing_seats(ticket, *, retrospective=False) -> list[str]:
    have = approving_seats(ticket, retrospective=retrospective)
    return [seat for seat in required_seats(ticket) if seat not in have]


def retrospective_is_open(ticket) -> bool:
    """An emergency change approved past the CAB, whose retrospective review is still due."""
    return ticket.retrospective_due and ticket.state not in ("draft", "submitted")


def still_needed_seats(ticket) -> list[str]:
    """The seats the review under way still needs: the CAB's (submitted) or the retrospective's."""
    if retrospective_is_open(ticket):
        return quorum_missing_seats(ticket, retrospective=True)
    if ticket.state == "submitted":
        return quorum_missing_seats(ticket)
    return []


def parse_kill_switch(path: str):
    match = KILL_SWITCH_PATH.match(path or "")
    return (match.group(1), match.group(2)) if match else None


def kill_switch_exists(path: str) -> bool:
    parsed = parse_kill_switch(path)
    if parsed is None:
        return False
    layer, key = parsed
    model, field = {
        "feature": (AIFeature, "slug"),
        "model": (AIModel, "model_id"),
        "tenant": (Tenant, "tenant_id"),
    }[layer]
    return model.objects.filter(**{field: key}).exists()


def kill_switch_missing(path: str) -> str | None:
    """Why a feature path has no switch behind it (its catalog row exists, its switch does not),
    else None: a path nothing stands behind would turn nothing off (issue 11 item 4). Checked at
    save; `submit` refuses it too (killswitches' kill_switch_path_names_a_switch guard). The
    killswitches app's one-to-one `kill_switch` on the catalog row is read by name: tickets never
    imports killswitches."""
    parsed = parse_kill_switch(path)
    if parsed is None or parsed[0] != "feature":
        return None
    if AIFeature.objects.filter(slug=parsed[1], kill_switch__isnull=True).exists():
        return f"There is no kill switch {path}: create it in the kill-switch console first."
    return None


def completeness_problems(ticket) -> dict[str, str]:
    """Field -> what is missing, for the ticket's tier. Empty when complete."""
    problems = {}
    tier = ticket.risk_tier
    if not ticket.title.strip():
        problems["title"] = "A title is required."
    if not ticket.summary.strip():
        problems["summary"] = "A summary is required."
    plan = ticket.rollback_plan.strip()
    if plan.lower().rstrip(".") in NON_PLANS or len(plan) < MIN_ROLLBACK_PLAN_CHARS:
        problems["rollback_plan"] = (
            "A rollback plan with specific steps is required for every tier "
            f"(at least {MIN_ROLLBACK_PLAN_CHARS} characters); 'feels reversible' is not a plan."
        )
    if not ticket.kill_switch:
        problems["kill_switch"] = "Name the kill switch that turns this change off."
    elif parse_kill_switch(ticket.kill_switch) is None:
        problems["kill_switch"] = "Use feature:<slug>, model:<id> or tenant:<id>."
    elif not kill_switch_exists(ticket.kill_switch):
        problems["kill_switch"] = f"Kill switch {ticket.kill_switch} does not exist."
    if not ticket.users_affected:
        problems["users_affected"] = "State how many users the change can reach."
    if not ticket.regions:
        problems["regions"] = "List the regions the change reaches."
    if not 1 <= (ticket.max_traffic_percent or 0) <= 100:
        problems["max_traffic_percent"] = "The ramp's traffic cap must be between 1 and 100%."
    if not ticket.pr_url:
        problems["pr_url"] = "Link the pull request."
    if ticket.classification == "prompt" and not ticket.prompt_version:
        problems["prompt_version"] = "A prompt change names its prompt registry version."
    if ticket.classification == "model_swap" and not ticket.candidate_model:
        problems["candidate_model"] = "A model swap names the candidate model."
    if tier in (RiskTier.MEDIUM, RiskTier.HIGH):
        if not ticket.risk_review_ticket:
            problems["risk_review_ticket"] = "Medium and High tier link the AI Risk Review ticket."
        if ticket.release_manager_id is None:
            problems["release_manager"] = "Name the release manager."
        if not ticket.bridge_url:
            problems["bridge_url"] = "Give the bridge URL for the release."
        if not ticket.paging_list:
            problems["paging_list"] = "List who is paged during the ramp."
    if ticket.pk is None or not ticket.eval_deltas.exists():
        problems["eval_deltas"] = "Post the eval-results delta vs the deployed version."
    if ticket.emergency and not ticket.emergency_justification.strip():
        problems["emergency_justification"] = "An emergency change needs its justification."
    feature_tier = ticket.feature.risk_tier if ticket.feature_id else None
    if feature_tier and RiskTier.rank(tier) < RiskTier.rank(feature_tier):
        problems["risk_tier"] = (
            f"The tier may be raised, never lowered below the feature's {feature_tier}."
        )
    return problems


def regressions_beyond_tolerance(ticket) -> list:
    if ticket.pk is None:
        return []
    tolerance = TierPolicy.for_tier(ticket.risk_tier).eval_regression_tolerance
    return [d for d in ticket.eval_deltas.all() if d.regression > tolerance + 1e-12]


# ----- guards -----


def ticket_is_complete(ticket):
    """The ticket is complete for its tier."""
    problems = completeness_problems(ticket)
    if problems:
        return "The ticket is incomplete: " + " ".join(problems.values())
    return None


def high_tier_has_independent_release_manager(ticket):
    """High tier: a release manager is named and is not the author."""
    if ticket.risk_tier != RiskTier.HIGH:
        return None
    if ticket.release_manager_id is None:
        return "High tier needs a release manager, and it must not be the author."
    if ticket.release_manager_id == ticket.author_id:
        return "High tier: the release manager must not be the author."
    return None


def eval_regressions_are_justified(ticket):
    """An eval regression beyond the tier's tolerance needs a written justification."""
    regressions = regressions_beyond_tolerance(ticket)
    if regressions and not ticket.eval_regression_justification.strip():
        tolerance = TierPolicy.for_tier(ticket.risk_tier).eval_regression_tolerance
        named = ", ".join(f"{d.metric} ({d.delta:+.4g})" for d in regressions)
        return (
            f"Eval regression beyond the {ticket.risk_tier} tier's tolerance of {tolerance:g}: "
            f"{named}. Write a justification for the CAB."
        )
    return None


def cab_quorum_has_approved(ticket, *, retrospective=False):
    """Every required CAB seat has approved in this round."""
    missing = quorum_missing_seats(ticket, retrospective=retrospective)
    if missing:
        review = "Retrospective CAB review" if retrospective else "CAB quorum"
        return f"{review} not reached; still needs: " + ", ".join(missing) + "."
    return None


def no_voter_is_the_author(ticket, *, retrospective=False):
    """No approving vote was cast by the ticket's author."""
    approvals = approving_seats(ticket, retrospective=retrospective).values()
    if any(v.voter_id == ticket.author_id for v in approvals):
        return "The author cannot vote on their own ticket."
    return None


def every_checklist_item_ticked(ticket, *, retrospective=False):
    """Every approving vote ticked every checklist item."""
    approvals = approving_seats(ticket, retrospective=retrospective).values()
    if any(not v.checklist_complete for v in approvals):
        return "Every CAB checklist item must be ticked to approve."
    return None


# The CAB approval's rules; the retrospective review of an emergency change meets the same ones.
QUORUM_GUARDS = (cab_quorum_has_approved, no_voter_is_the_author, every_checklist_item_ticked)


def retrospective_refusal(ticket) -> str | None:
    """Why the retrospective review is not yet complete (the CAB's own quorum rules), or None."""
    for check in QUORUM_GUARDS:
        sentence = check(ticket, retrospective=True)
        if sentence:
            return sentence
    return None


def emergency_is_flagged_and_justified(ticket):
    """Emergency approval needs the emergency flag and a justification."""
    if not ticket.emergency:
        return "Only a ticket flagged as an emergency can be emergency-approved."
    if not ticket.emergency_justification.strip():
        return "An emergency approval needs the emergency justification."
    return None


def planned_start_is_set(ticket):
    """Scheduling needs a planned start."""
    if ticket.planned_start is None:
        return "Pick a planned start."
    return None


def ticket_unchanged_since_approval(ticket):
    """What starts is exactly what was approved."""
    if ticket.approved_fingerprint and ticket.approved_fingerprint != ticket.fingerprint():
        return "The ticket changed after approval; file a new ticket."
    return None


def reason_is_given(ticket):
    """A reason is required."""
    if not (getattr(ticket, "_transition_reason", "") or "").strip():
        return "A reason is required."
    return None


def review_notes_are_written(ticket):
    """Closing needs the post-deploy (or post-incident) review notes."""
    if not ticket.review_notes.strip():
        return "Closing needs the post-deploy (or post-incident) review notes."
    return None


# ----- who may (django-fsm `permission=`; separation of duties holds for superusers too) -----


def may_submit(ticket, user):
    return user is not None and ticket.author_id == user.pk


may_withdraw = may_submit


def is_system_actor(ticket, user):
    return is_system(user)


def may_vote(ticket, user):
    return roles.has_role(user, *roles.CAB_SEATS) and ticket.author_id != user.pk


def may_emergency_approve(ticket, user):
    return roles.has_role(user, roles.EXEC_APPROVER) and ticket.author_id != user.pk


def may_release(ticket, user):
    if not roles.has_role(user, roles.RELEASE_MANAGER):
        return False
    return not (ticket.risk_tier == RiskTier.HIGH and ticket.author_id == user.pk)


def may_release_or_system(ticket, user):
    return is_system(user) or may_release(ticket, user)


def may_cancel(ticket, user):
    return user is not None and (ticket.author_id == user.pk or may_release(ticket, user))


# Why a role that may not take a transition is refused (the table's permission sentences).
PERMISSION_REASONS = {t.name: t.permission for t in TABLE}
