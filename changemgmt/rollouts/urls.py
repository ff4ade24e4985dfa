from django.urls import path

from . import views

app_name = "rollouts"
urlpatterns = [
    path("dashboard-panel/", views.dashboard_panel, name="dashboard-panel"),
    path("<change_id:change_id>/panel/", views.ticket_panel, name="ticket-panel"),
    path("<change_id:change_id>/plan/", views.plan_edit, name="plan"),
    path("<change_id:change_id>/control/<str:name>/", views.control, name="control"),
    path(
        "<change_id:change_id>/breaches/<int:pk>/acknowledge/",
        views.acknowledge,
        name="acknowledge",
    ),
]
