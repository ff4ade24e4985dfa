"""`GET /api/v1/`: where a person (or a pipeline author) starts reading the API — every endpoint
by name, with the docs and the schema beside them, like DRF's DefaultRouter root.

Listed here rather than generated from the URL conf: the per-change routes need a change ID to be
links at all, and a list people read is better in the order of a change's life than in the order
the apps happen to be included."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from changemgmt.api_permissions import ApiDocsReader

# (name, URL name or a template with {placeholders}, what it is for)
ENDPOINTS = [
    ("auth-token", "api-token", "POST username and password, get an API token"),
    ("changes", "api-changes", "GET list / POST file a change ticket"),
    ("change", "/api/v1/changes/{change_id}/", "GET / PATCH one ticket"),
    ("transitions", "/api/v1/changes/{change_id}/{transition}/", "POST submit, approve, …"),
    ("votes", "/api/v1/changes/{change_id}/votes/", "POST a CAB vote with the checklist"),
    ("plan", "/api/v1/changes/{change_id}/plan/", "GET / PUT a draft's ramp plan and guards"),
    ("metrics", "/api/v1/changes/{change_id}/metrics/", "POST health samples for a ramp"),
    (
        "breach-acknowledge",
        "/api/v1/changes/{change_id}/breaches/{id}/acknowledge/",
        "POST a note acknowledging a breach (then resume)",
    ),
    ("slots", "/api/v1/changes/{change_id}/slots/", "GET the open release-window slots"),
    ("windows", "api-windows", "GET the window policy and the freezes"),
    ("calendar-events", "api-calendar-events", "GET the calendar's events"),
    ("features", "api-feature-list", "GET the catalog's AI features"),
    ("models", "api-model-list", "GET the catalog's models"),
    ("tenants", "api-tenant-list", "GET the catalog's tenants"),
    ("cohorts", "api-cohort-list", "GET the catalog's cohorts"),
    ("kill-switch-flip", "/api/v1/kill-switches/{layer}/{key}/flip/", "POST engage or lift"),
    ("gateway-policy", "gateway-policy-json", "GET the signed gateway policy (JSON)"),
    ("gateway-policy-ack", "gateway-policy-ack", "POST the version a gateway applied"),
    ("audit", "api-audit-records", "GET the audit record"),
]


class ApiRoot(APIView):
    """The API's table of contents, for whoever may read the docs (not a gateway's token)."""

    permission_classes = [ApiDocsReader]

    @extend_schema(exclude=True)
    def get(self, request):
        def link(target: str) -> str:
            path = target if target.startswith("/") else reverse(target)
            return request.build_absolute_uri(path) if "{" not in path else path

        return Response(
            {
                "docs": request.build_absolute_uri(reverse("api-docs")),
                "schema": request.build_absolute_uri(reverse("api-schema")),
                "endpoints": {
                    name: {"url": link(target), "description": text}
                    for name, target, text in ENDPOINTS
                },
            }
        )


api_root = ApiRoot.as_view()
