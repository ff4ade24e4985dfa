"""WSGI entry point: Django's application, with the gateway polls answered ahead of its
middleware chain (changemgmt/killswitches/gateway_wsgi.py).

Once everything is imported, the objects alive then (modules, settings, URL patterns, the
models' metadata: most of the heap, and alive for the process's life) are moved out of the
garbage collector's reach (`gc.freeze`), so its collections during requests walk only what
requests allocate. bench-peers measured a few per cent more polls per second from it.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changemgmt.settings")
django_application = get_wsgi_application()

from changemgmt.killswitches.gateway_wsgi import GatewayPolls  # noqa: E402  (needs Django set up)

application = GatewayPolls(django_application)

gc.collect()  # what importing left as garbage is freed, not frozen
gc.freeze()
