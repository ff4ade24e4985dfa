"""What a request that failed answers: JSON on the API, a short page elsewhere.

The database going away mid-request (a restart, a failover) is not a bug to report: it is a
503 with `Retry-After`, so gateways, pipelines and browsers try again in a moment. Nothing the
request was writing was saved (every write is one transaction). Both views render without the
database (no context processors, no session).
"""

import sys

from django.contrib.sessions.exceptions import SessionInterrupted
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = "The database is unavailable: nothing was saved. Try again in a moment."
SERVER_ERROR = "Server error: the request was not completed and nothing was saved."


def database_gone(exc) -> bool:
    """True when `exc`, or what it was raised from, is the database connection failing."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# Machines read JSON; a person's page gets a page whatever its Accept header says.
MACHINE_PATHS = ("/api/", "/gateway-policies/", "/healthz")


def _machine(request) -> bool:
    return request.path.startswith(MACHINE_PATHS)


def _unavailable(request):
    if _machine(request):
        response = JsonResponse(
            {"detail": UNAVAILABLE, "retry_after": RETRY_AFTER_SECONDS}, status=503
        )
    else:
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request):
    """handler500: called while the exception is being handled, so sys.exc_info() names it."""
    if database_gone(sys.exc_info()[1]):
        return _unavailable(request)
    if _machine(request):
        return JsonResponse({"detail": SERVER_ERROR}, status=500)
    return defaults.server_error(request)


def bad_request(request, exception):
    """handler400. A session that could not be saved because the database went away is that
    outage (503), not a "session interrupted" by a logout elsewhere (400)."""
    if isinstance(exception, SessionInterrupted) and database_gone(exception):
        return _unavailable(request)
    return defaults.bad_request(request, exception)


def not_found(request, exception):
    """handler404: an API client reads JSON for a route that matched nothing (a malformed change
    ID, say), as it does for an object that does not exist; a person gets the page."""
    if _machine(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
