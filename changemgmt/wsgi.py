"""WSGI entry point: Django's application, with the gateway polls answered ahead of its
middleware chain (changemgmt/killswitches/gateway_wsgi.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changemgmt.settings")
django_application = get_wsgi_application()

from changemgmt.killswitches.gateway_wsgi import GatewayPolls  # noqa: E402  (needs Django set up)

application = GatewayPolls(django_application)
