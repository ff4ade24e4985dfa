from django.urls import path

from . import api, gateway_views

urlpatterns = [
    path("gateway-policy", gateway_views.policy_json, name="gateway-policy-json"),
    path("gateway-policy/ack", api.AckView.as_view(), name="gateway-policy-ack"),
    path(
        "kill-switches/<str:layer>/<str:key>/flip/",
        api.FlipView.as_view(),
        name="killswitch-flip-api",
    ),
]
