"""DRF permissions shared by the apps' APIs."""

from rest_framework import permissions

from changemgmt import roles


class ApiDocsReader(permissions.BasePermission):
    """The API's schema and docs: any signed-in account but a gateway's, which reads its policy
    and acks versions, nothing else (DESIGN.md)."""

    message = "A gateway account reads the gateway policy only."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.is_superuser or roles.user_roles(user) != {roles.GATEWAY}
