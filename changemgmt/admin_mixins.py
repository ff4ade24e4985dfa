class ReadOnlyAdminMixin:
    """An admin that shows rows but never adds, changes or deletes them.

    For records that change only through their services (the lifecycle, the sweeper, the audit
    chain): an admin edit would bypass the guards and the acting-user history."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
