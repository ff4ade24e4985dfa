"""Mounted at /gateway-policies/ by changemgmt/urls.py."""

from django.urls import path

from . import gateway_views

urlpatterns = [
    path("kill-switches.yaml", gateway_views.policy_yaml, name="gateway-policy-yaml"),
    path("public-key", gateway_views.public_key, name="gateway-policy-public-key"),
]
