from django.urls import path

from . import api

urlpatterns = [
    path("gateway-policy/ack", api.AckView.as_view(), name="gateway-policy-ack"),
    path(
        "kill-switches/<str:layer>/<str:key>/flip/",
        api.FlipView.as_view(),
        name="killswitch-flip-api",
    ),
]
