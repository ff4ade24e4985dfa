"""Roles are Django groups (DESIGN.md, "Who uses it").

A superuser is an administrator of the catalog and policy data, not every role at once: roles come
from group membership only, so no account bypasses separation of duties.
"""

from django.core.exceptions import PermissionDenied

AUTHOR = "author"
RELEASE_MANAGER = "release_manager"
CAB_PLATFORM = "cab_platform"
CAB_FEATURE = "cab_feature"
CAB_RISK = "cab_risk"
CAB_CUSTOMER = "cab_customer"
EXEC_APPROVER = "exec_approver"
PLATFORM_TEAM = "platform_team"
FEATURE_OWNER = "feature_owner"
SUPPORT_ENG = "support_eng"
AUDITOR = "auditor"
GATEWAY = "gateway"
# Machine account that posts canary health samples; not a DESIGN.md human role, so not in ALL_ROLES.
OBSERVABILITY = "observability"

CAB_SEATS = (CAB_PLATFORM, CAB_FEATURE, CAB_RISK, CAB_CUSTOMER)
ALL_ROLES = (
    AUTHOR,
    RELEASE_MANAGER,
    CAB_PLATFORM,
    CAB_FEATURE,
    CAB_RISK,
    CAB_CUSTOMER,
    EXEC_APPROVER,
    PLATFORM_TEAM,
    FEATURE_OWNER,
    SUPPORT_ENG,
    AUDITOR,
    GATEWAY,
)

ROLE_LABELS = {
    AUTHOR: "Author",
    RELEASE_MANAGER: "Release manager",
    CAB_PLATFORM: "CAB: AI platform",
    CAB_FEATURE: "CAB: feature team",
    CAB_RISK: "CAB: AI Risk",
    CAB_CUSTOMER: "CAB: customer impact",
    EXEC_APPROVER: "Exec approver",
    PLATFORM_TEAM: "Platform team",
    FEATURE_OWNER: "Feature owner",
    SUPPORT_ENG: "Support engineering",
    AUDITOR: "Auditor",
    GATEWAY: "Gateway (machine)",
    OBSERVABILITY: "Observability (machine)",
}


def user_roles(user) -> frozenset[str]:
    """The role names of `user`, cached on the instance for the request."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_changemgmt_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._changemgmt_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    """True when `user` holds any of `roles`."""
    return bool(user_roles(user) & set(roles))


def is_human_reader(user) -> bool:
    """Anyone signed in with a human role may read the console pages; machine accounts may not."""
    mine = user_roles(user)
    return bool(mine - {GATEWAY, OBSERVABILITY}) or (user.is_authenticated and user.is_superuser)


def require_human_reader(user, what: str) -> None:
    """The console pages' one access check (tickets, ramps, kill switches, the calendar): 403 for a
    machine account or an account with no role, saying what it may not read."""
    if not is_human_reader(user):
        raise PermissionDenied(f"Your account has no role that may read {what}.")
