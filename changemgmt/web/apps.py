from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "changemgmt.web"
    label = "web"

    def ready(self):
        from django.core.signals import request_started
        from django.db import close_old_connections

        # Django checks the connections for age and errors when a request starts and again when
        # it ends. On a worker thread the end of one request is the start of the next, and the
        # health check a connection gets after that (CONN_HEALTH_CHECKS) is still done at its
        # first use: once, at the end, is enough, and each check cost ~3% of a gateway poll.
        request_started.disconnect(close_old_connections)
