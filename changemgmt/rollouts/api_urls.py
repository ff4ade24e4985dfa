from django.urls import path

from . import api, plan_api

urlpatterns = [
    path(
        "changes/<change_id:change_id>/metrics/",
        api.MetricsCreate.as_view(),
        name="api-change-metrics",
    ),
    path(
        "changes/<change_id:change_id>/plan/", plan_api.ChangePlan.as_view(), name="api-change-plan"
    ),
    path(
        "changes/<change_id:change_id>/breaches/<int:id>/acknowledge/",
        plan_api.BreachAcknowledge.as_view(),
        name="api-breach-acknowledge",
    ),
]
