"""Mounted at /gateway-policies/ by changemgmt/urls.py (which matches the polled documents first)."""

from django.urls import path

from . import gateway_views

urlpatterns = [
    path("public-key", gateway_views.public_key, name="gateway-policy-public-key"),
]
