from django.urls import path

from . import views

app_name = "windows"
urlpatterns = [
    path("", views.calendar_page, name="calendar"),
    path("schedule/<change_id:change_id>/", views.schedule, name="schedule"),
]
