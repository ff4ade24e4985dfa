import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired
from django.contrib.auth.views import redirect_to_login
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.functional import SimpleLazyObject, empty
from django_htmx.http import HttpResponseClientRedirect

from changemgmt import roles

from . import zones


def login_redirect(request, next_path: str):
    """To the login page, and back to `next_path` after. An htmx request (a fragment swapped into
    a page) sends the whole browser there, back to the page it was on, rather than having the
    login page swapped into a table row."""
    if getattr(request, "htmx", False):
        current = urlsplit(request.htmx.current_url or "")
        page = current.path + (f"?{current.query}" if current.query else "") or "/"
        return HttpResponseClientRedirect(redirect_to_login(page).url)
    return redirect_to_login(next_path)


class AbsoluteSessionTimeoutMiddleware:
    """End a session 8 hours after login, however active, and keep the idle timeout
    (SESSION_COOKIE_AGE) counted from the last request.

    Sessions are saved only when they change (SESSION_SAVE_EVERY_REQUEST is off: a write on every
    request, and a database blip at the end of any page was a 400 "session interrupted"). The
    idle clock moves by changing the session at most once every SESSION_TOUCH_SECONDS; a save
    that fails then because the database went away answers 503 "try again" (web/errors.py).
    """

    KEY = "_login_started_at"
    SEEN = "_seen_at"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and hasattr(request, "session"):
            started = request.session.get(self.KEY)
            now = time.time()
            if started is None:
                request.session[self.KEY] = now
                request.session[self.SEEN] = now
            elif now - started > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
                request.session[self.KEY] = now
                if not request.path.startswith("/api/"):
                    return login_redirect(request, request.get_full_path())
            elif now - request.session.get(self.SEEN, 0) >= settings.SESSION_TOUCH_SECONDS:
                request.session[self.SEEN] = now  # changed: saved, and its cookie renewed
        return self.get_response(request)


# Machine-facing paths authenticate inside the view (API token, gateway token, feed token) and
# answer 401/403 rather than a redirect to the login page.
MACHINE_PREFIXES = ("/api/", "/gateway-policies/", "/calendar.ics", "/healthz", "/metrics")


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Django's login-required-by-default, except for machine-facing paths."""

    def handle_no_permission(self, request, view_func):
        if getattr(request, "htmx", False):
            return login_redirect(request, request.get_full_path())
        return super().handle_no_permission(request, view_func)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(MACHINE_PREFIXES):
            return None
        refused = super().process_view(request, view_func, view_args, view_kwargs)
        if (
            refused is None
            and getattr(view_func, "login_required", True)
            and roles.user_roles(request.user) == {roles.GATEWAY}
        ):
            # A gateway's account reads its policy through the machine paths; a stolen gateway
            # credential must not open the console.
            raise PermissionDenied("Machine accounts cannot use the console pages.")
        return refused


class MachineDocumentMiddleware:
    """Leaves the browser-only headers off machine documents (the gateway policies): a gateway
    neither frames nor navigates, and on a 304 polled every few seconds they were a third of the
    bytes. Outermost, so it sees SecurityMiddleware's additions; X-Content-Type-Options stays."""

    BROWSER_ONLY = ("Referrer-Policy", "Cross-Origin-Opener-Policy")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(response, "machine_document", False):
            for name in self.BROWSER_ONLY:
                del response[name]
        return response


class LazyMessageMiddleware(MessageMiddleware):
    """Django's messages, with the storage built when a view or template first uses it: Django's
    builds it (and its cookie signer) on every request, ~7% of a gateway poll, API calls and
    polls that never show a message included. A request that never touched it leaves the
    messages as they were, as Django's does for a storage it did not use."""

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)


class ViewerTimezoneMiddleware:
    """Show times in the viewer's zone (the `tz` cookie static/js/timezone.js sets), else the
    window policy's. The admin works in the policy's zone: freezes and windows are stated
    there, whoever types them (a freeze typed in Berlin still means New York's quarter-end).
    Machine paths are left alone: a gateway poll reads no policy row for a page it never shows."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(MACHINE_PREFIXES):
            return self.get_response(request)
        policy = zones.policy_zone()
        viewer = (
            policy if request.path.startswith("/admin/") else zones.viewer_zone(request, policy)
        )
        request.viewer_zone, request.policy_zone = viewer, policy
        with timezone.override(viewer):
            return self.get_response(request)
