from django.urls import path

from . import api

urlpatterns = [
    path(
        "changes/<str:change_id>/metrics/",
        api.MetricsCreate.as_view(),
        name="api-change-metrics",
    ),
]
