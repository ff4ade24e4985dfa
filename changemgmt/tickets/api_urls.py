from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token

from . import api

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("changes/", api.ChangeListCreate.as_view(), name="api-changes"),
    path("changes/<change_id:change_id>/", api.ChangeDetail.as_view(), name="api-change"),
    path("changes/<change_id:change_id>/votes/", api.VoteCreate.as_view(), name="api-change-votes"),
    # One route per transition (names with '-' for '_'), so other apps' routes under a change
    # (e.g. metrics/) are not swallowed by a catch-all.
    *[
        path(
            f"changes/<change_id:change_id>/{name.replace('_', '-')}/",
            api.transition_view(name).as_view(),
            name=f"api-change-{name.replace('_', '-')}",
        )
        for name in api.API_TRANSITIONS
    ],
]
