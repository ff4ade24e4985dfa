"""DRF permissions shared by the apps' APIs."""

from rest_framework import permissions

from changemgmt import roles


class ApiDocsReader(permissions.BasePermission):
    """The API's schema and docs: any account with a role but a gateway's, which reads its policy
    and acks versions, nothing else (DESIGN.md)."""

    message = (
        "Only an account with a role may read the API description (a gateway reads its policy)."
    )

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.is_superuser or bool(roles.user_roles(user) - {roles.GATEWAY})
