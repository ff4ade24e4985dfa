"""Every URL × every role (anonymous included): who may read, who is refused, and never a 500.

Failures are collected over the whole walk and reported together, so one run lists every route a
role gets wrong rather than stopping at the first.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from changemgmt import roles
from changemgmt.audit.access import AUDIT_READERS

from .conftest import row_counts
from .urlwalk import all_routes

PERSONAS = [*roles.ALL_ROLES, "outsider", "anonymous"]
# What a signed-in account without a role may open: the dashboard (which says why it is empty)
# and the written emergency doctrine.
ROLELESS_PAGES = {"/", "/doctrine/emergency/"}
NOT_POSTED = {"/accounts/login/", "/accounts/logout/"}  # posting them is the point of them

FORM = re.compile(r"<form\b(?P<attrs>[^>]*)>(?P<body>.*?)</form>", re.S | re.I)


def post_forms(html: str):
    """(action, body) of every POST form in a page."""
    for match in FORM.finditer(html):
        attrs = match.group("attrs")
        if re.search(r"method\s*=\s*['\"]?post", attrs, re.I):
            action = re.search(r"action\s*=\s*['\"]([^'\"]*)['\"]", attrs, re.I)
            yield (action.group(1) if action else ""), match.group("body")


def request(client, method, path):
    """(status, location, content-type, text) or ("exception", message)."""
    try:
        response = getattr(client, method)(path)
    except Exception as exc:  # the test client re-raises what the view raised: that is a 500
        return 500, "", "", f"{type(exc).__name__}: {exc}"
    text = ""
    if "html" in response.get("Content-Type", "") and hasattr(response, "content"):
        text = response.content.decode(errors="replace")
    return (
        response.status_code,
        response.get("Location", ""),
        response.get("Content-Type", ""),
        text,
    )


def is_login_redirect(status, location):
    return status in (301, 302) and "login" in location


def client_for(persona, users):
    client = Client()
    if persona != "anonymous":
        client.force_login(users[persona])
    return client


def test_it_lets_a_gateway_token_read_only_the_gateway_policy(world):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=world["users"][roles.GATEWAY])
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    before = row_counts()
    problems = []
    for route in all_routes(world["samples"]):
        if not route.is_machine or route.is_public or route.is_gateway_document:
            continue
        for method in ("get", "post"):
            status, location, _, text = request(client, method, route.path)
            if status not in (403, 405):
                problems.append(f"{method.upper()} {route.path} with the gateway token: {status}")
    assert problems == [], "\n".join(problems)
    assert row_counts() == before


def test_it_knows_how_to_fill_every_path_argument(world):
    unfilled = {r.pattern: r.unfilled for r in all_routes(world["samples"]) if r.unfilled}
    assert unfilled == {}, f"add these path arguments to urlwalk.sample_value: {unfilled}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_answers_every_route_for_every_role_without_a_server_error(world, persona):
    routes = all_routes(world["samples"])
    client = client_for(persona, world["users"])
    problems = []
    for route in routes:
        status, location, ctype, text = request(client, "get", route.path)
        where = f"GET {route.path} ({route.name}) as {persona}: {status} {location}"
        if status >= 500:
            problems.append(f"{where} — server error {text[:300]}")
            continue
        if persona == "anonymous":
            if route.is_public:
                continue
            if route.is_machine:
                if status not in (401, 403):
                    problems.append(f"{where} — anonymous must get 401/403")
            elif not is_login_redirect(status, location):
                problems.append(f"{where} — anonymous must be sent to the login page")
        elif persona == roles.GATEWAY:
            if route.is_public or route.is_gateway_document:
                continue
            if route.is_machine and status not in (403, 405):
                problems.append(f"{where} — the gateway may read only its policy documents")
            elif not route.is_machine and status == 200:
                problems.append(f"{where} — the gateway is a machine: no human pages")
        elif persona == roles.AUDITOR:
            if route.is_admin or route.is_public or route.is_gateway_document:
                continue
            if route.is_metrics:  # a metrics account's token or an allowed address, no one else
                if status != 403:
                    problems.append(f"{where} — only a metrics account reads /metrics")
                continue
            if route.is_action and status in (403, 405):
                continue  # an action's form or endpoint: refusing the auditor is right
            if status not in (200, 304, 405) and not (300 <= status < 400 and route.is_machine):
                problems.append(f"{where} — the auditor reads everything")
        elif persona == "outsider":  # signed in, no role: nothing but the public paths
            if route.is_public:
                continue
            if route.path in ROLELESS_PAGES:
                if status != 200 or (route.path == "/" and 'id="no-role"' not in text):
                    problems.append(f"{where} — the dashboard tells a role-less account why")
                continue
            if route.is_admin:
                if not (300 <= status < 400 or status == 403):
                    problems.append(f"{where} — no role, no admin")
            elif status not in (403, 405):
                problems.append(f"{where} — an account without a role must get 403")
        else:  # every human role reads every console page; actions may refuse it
            if route.is_admin or route.is_public or route.is_machine:
                continue
            if status == 403 and route.is_action:
                continue
            if route.path.startswith("/audit/") and persona not in AUDIT_READERS:
                if status != 403:
                    problems.append(f"{where} — the audit log is for {AUDIT_READERS}")
                continue
            if status not in (200, 304, 405):
                problems.append(f"{where} — a {persona} reads the console pages")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("persona", [roles.AUDITOR, roles.GATEWAY, "outsider", "anonymous"])
def test_it_refuses_every_post_of_a_read_only_account_and_changes_nothing(world, persona):
    routes = all_routes(world["samples"])
    client = client_for(persona, world["users"])
    problems = []
    for route in routes:
        if route.path in NOT_POSTED or route.is_public or route.path.startswith("/static/"):
            continue
        if persona == roles.GATEWAY and route.path.startswith("/api/v1/gateway-policy/ack"):
            continue
        get_status, _, _, page = request(client, "get", route.path)
        before = row_counts()  # after the GET: a first read may build the policy document
        status, location, _, text = request(client, "post", route.path)
        where = f"POST {route.path} ({route.name}) as {persona}: {status} {location}"
        if status >= 500:
            problems.append(f"{where} — server error {text[:300]}")
            continue
        if persona == "anonymous":
            if route.is_public:
                continue
            if route.is_machine:
                ok = status in (401, 403, 405)
            else:
                ok = is_login_redirect(status, location)
        elif route.is_admin:
            ok = is_login_redirect(status, location) or status == 403
        elif status in (403, 405):
            ok = True
        elif status == 404:
            ok = True  # no such object (e.g. no breach in the test world): nothing to change
        else:
            # A read-only page that ignores the method is harmless; a page whose own form posts
            # here must refuse the read-only account outright.
            posts_here = any(
                action in ("", route.path) or urlsplit(action).path == route.path
                for action, _ in post_forms(page)
            )
            ok = status == 200 and get_status == 200 and not posts_here and not route.is_action
        if not ok:
            problems.append(f"{where} — a read-only account's POST must be refused (403)")
        after = row_counts()
        changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
        if changed:
            problems.append(f"{where} — changed rows {changed}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("persona", [*roles.ALL_ROLES])
def test_it_puts_the_csrf_token_in_every_post_form_it_renders(world, persona):
    client = client_for(persona, world["users"])
    problems = []
    forms_seen = 0
    for route in all_routes(world["samples"]):
        status, _, ctype, page = request(client, "get", route.path)
        if status != 200 or "html" not in ctype:
            continue
        for action, body in post_forms(page):
            forms_seen += 1
            if 'name="csrfmiddlewaretoken"' not in body:
                problems.append(f"{route.path} as {persona}: form to {action!r} has no CSRF token")
    assert problems == [], "\n".join(problems)
    if persona != roles.GATEWAY:
        assert forms_seen >= 1  # at least the log-out form in the navigation bar


def test_it_puts_csrf_token_in_every_post_form_of_every_template():
    from pathlib import Path

    from django.conf import settings

    problems = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        for action, body in post_forms(template.read_text()):
            if "{% csrf_token %}" not in body:
                problems.append(f"{template}: POST form to {action!r} without {{% csrf_token %}}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("persona", [roles.AUTHOR, roles.RELEASE_MANAGER, roles.PLATFORM_TEAM])
def test_it_refuses_a_post_without_the_csrf_token(world, persona):
    """Every form action a signed-in user is offered answers 403 to a POST that lacks the token."""
    user = world["users"][persona]
    reader = Client()
    reader.force_login(user)
    actions = {"/accounts/logout/"}
    for route in all_routes(world["samples"]):
        status, _, ctype, page = request(reader, "get", route.path)
        if status == 200 and "html" in ctype:
            for action, _ in post_forms(page):
                path = urlsplit(action).path or route.path
                if path.startswith("/"):
                    actions.add(path)
    attacker = Client(enforce_csrf_checks=True)
    attacker.force_login(user)
    before = row_counts()
    refused = {}
    for path in sorted(actions):
        response = attacker.post(path, {"reason": "csrf probe", "engaged": "on"})
        refused[path] = response.status_code
    assert {p: s for p, s in refused.items() if s != 403} == {}
    assert row_counts() == before
