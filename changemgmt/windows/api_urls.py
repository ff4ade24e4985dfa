from django.urls import path

from . import api

urlpatterns = [
    path("windows/", api.WindowsView.as_view(), name="api-windows"),
    path("calendar/events/", api.CalendarEventsView.as_view(), name="api-calendar-events"),
    path(
        "changes/<change_id:change_id>/slots/",
        api.ChangeSlotsView.as_view(),
        name="api-change-slots",
    ),
]
