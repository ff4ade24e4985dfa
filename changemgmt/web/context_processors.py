from changemgmt import roles as role_names


def roles(request):
    """`my_roles` (the viewer's group names) for templates that show or hide actions."""
    return {
        "my_roles": role_names.user_roles(getattr(request, "user", None)),
        "role_labels": role_names.ROLE_LABELS,
    }
