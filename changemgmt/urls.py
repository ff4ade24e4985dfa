from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from changemgmt.killswitches import gateway_views
from changemgmt.web import metrics as web_metrics
from changemgmt.web import views as web_views
from changemgmt.web.api_root import api_root
from changemgmt.windows import feeds as windows_feeds

urlpatterns = [
    # The gateways' polls come first: Django tries the patterns in order, and every gateway polls
    # these every few seconds. Resolved after the console's includes, they cost more than the view.
    path("api/v1/gateway-policy", gateway_views.policy_json, name="gateway-policy-json"),
    path(
        "gateway-policies/kill-switches.yaml",
        gateway_views.policy_yaml,
        name="gateway-policy-yaml",
    ),
    path("", web_views.dashboard, name="dashboard"),
    path("doctrine/emergency/", web_views.emergency_doctrine, name="emergency-doctrine"),
    path(
        "accounts/login/",
        login_not_required(auth_views.LoginView.as_view(redirect_authenticated_user=True)),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("healthz", web_views.healthz, name="healthz"),
    path("metrics", web_metrics.metrics_view, name="metrics"),
    path("bench/trivial", web_views.trivial, name="bench-trivial"),
    path("tickets/", include("changemgmt.tickets.urls")),
    path("catalog/", include("changemgmt.catalog.urls")),
    path("calendar/", include("changemgmt.windows.urls")),
    path("calendar.ics", windows_feeds.ical_feed, name="calendar-ics"),
    path("kill-switches/", include("changemgmt.killswitches.urls")),
    path("ramps/", include("changemgmt.rollouts.urls")),
    path("audit/", include("changemgmt.audit.urls")),
    # Machine-facing documents and the API.
    path("gateway-policies/", include("changemgmt.killswitches.gateway_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", api_root, name="api-root"),
    path("api/v1/", include("changemgmt.tickets.api_urls")),
    path("api/v1/", include("changemgmt.catalog.api_urls")),
    path("api/v1/", include("changemgmt.windows.api_urls")),
    path("api/v1/", include("changemgmt.killswitches.api_urls")),
    path("api/v1/", include("changemgmt.rollouts.api_urls")),
    path("api/v1/", include("changemgmt.audit.api_urls")),
]

handler400 = "changemgmt.web.errors.bad_request"
handler404 = "changemgmt.web.errors.not_found"
handler500 = "changemgmt.web.errors.server_error"
