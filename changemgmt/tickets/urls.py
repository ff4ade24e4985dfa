from django.urls import path

from . import cab_views, views

app_name = "tickets"
urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_new, name="new"),
    path("cab/", cab_views.cab_agenda, name="cab-agenda"),
    path("cab/items/", cab_views.cab_agenda_items, name="cab-agenda-items"),
    path("<change_id:change_id>/", views.ticket_detail, name="detail"),
    path("<change_id:change_id>/edit/", views.ticket_edit, name="edit"),
    path("<change_id:change_id>/review/", cab_views.cab_review, name="review"),
    path(
        "<change_id:change_id>/transition/<str:name>/", views.ticket_transition, name="transition"
    ),
]
