from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from changemgmt import roles
from changemgmt.panels import collect
from changemgmt.windows.policy import current_policy


def dashboard(request):
    return render(
        request,
        "web/dashboard.html",
        {
            "panels": collect("dashboard_panel", request),
            "no_role": not roles.user_roles(request.user) and not request.user.is_superuser,
        },
    )


def emergency_doctrine(request):
    """The emergency pipeline, written down before it is needed (the article's doctrine)."""
    return render(
        request, "web/emergency_doctrine.html", {"window_text": current_policy().describe()}
    )


@login_not_required
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@login_not_required
def trivial(request):
    """The benchmark's baseline: the cheapest response Django can give (no DB, no template)."""
    return HttpResponse("ok", content_type="text/plain")
