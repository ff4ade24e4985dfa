"""The name django-axes records a login attempt under."""

from django.conf import settings

# axes stores the attempted username in a 255-character column; PostgreSQL refuses a longer one
# with a 500 before the form could say "wrong username or password". No real username is that
# long (ours are at most 150), so the cut never merges two accounts' lockouts.
AXES_USERNAME_MAX = 255


def attempted_username(request, credentials=None) -> str | None:
    """axes' own lookup (credentials first, then the POSTed form field), cut to what it stores."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        name = credentials.get(field)
    else:
        name = getattr(request, "data", request.POST).get(field)
    return name[:AXES_USERNAME_MAX] if isinstance(name, str) else name
