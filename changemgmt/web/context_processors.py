from changemgmt import roles as role_names


def roles(request):
    """`my_roles` (the viewer's group names) for templates that show or hide actions."""
    return {
        "my_roles": role_names.user_roles(getattr(request, "user", None)),
        "role_labels": role_names.ROLE_LABELS,
    }


def zones(request):
    """`viewer_zone` and `policy_zone` (names), set by ViewerTimezoneMiddleware, for the labels."""
    viewer = getattr(request, "viewer_zone", None)
    policy = getattr(request, "policy_zone", None)
    return {"viewer_zone": str(viewer or ""), "policy_zone": str(policy or "")}
