from django.core.exceptions import PermissionDenied

from changemgmt import roles

# "Auditor and above": the people who answer for changes read the whole record.
AUDIT_READERS = (roles.AUDITOR, roles.RELEASE_MANAGER, roles.PLATFORM_TEAM, *roles.CAB_SEATS)


def may_read_audit_log(user) -> bool:
    return roles.has_role(user, *AUDIT_READERS)


def require_audit_reader(user):
    if not may_read_audit_log(user):
        raise PermissionDenied(
            "Only auditors, release managers, the platform team and CAB seats may read the audit log."
        )
