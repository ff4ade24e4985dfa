"""The classes of input that used to answer 500 (issue 11, item 10), sent to every API endpoint,
every form a page renders and every admin form: JSON nested a thousand deep, NUL characters,
lone surrogates, over-long text. Never a 500; on the API, never a changed row.

Routes and forms are found by walking (tests/security/urlwalk.py and the rendered pages), so a new
endpoint or form is covered without editing this file.
"""

import re
from urllib.parse import quote, urlsplit

import pytest
from django.contrib import admin
from django.test import Client

from changemgmt import roles
from tests.factories import UserFactory
from tests.security.conftest import row_counts
from tests.security.test_permission_matrix import NOT_POSTED, post_forms, request
from tests.security.urlwalk import all_routes

DEEP = b"[" * 1000 + b"]" * 1000
# Every key a real body of ours uses, so each view finds "its" field hostile, not just absent.
BODY_KEYS = (
    "title summary feature classification risk_tier release_manager rollback_plan kill_switch "
    "reason comment decision notes metric observed_at planned_start gateway expires username "
    "password note idempotency_key emergency_justification"
).split()
HOSTILE_ESCAPES = {"nul": "\\u0000", "surrogate": "\\ud800"}
FIELD = re.compile(r"<(?:input|textarea|select)\b[^>]*\bname\s*=\s*['\"]([^'\"]+)['\"]", re.I)
KEPT_FIELDS = {"csrfmiddlewaretoken"}


def hostile_json(escape: str) -> bytes:
    """A JSON object with every body key set to a string holding `escape`, written as the JSON
    escape itself: a lone surrogate cannot be encoded as UTF-8 any other way."""
    items = ", ".join(f'"{key}": "a{escape}b"' for key in BODY_KEYS)
    return ("{" + items + ', "engaged": true, "checklist": {}}').encode()


def hostile_form(names, value: str) -> str:
    """An urlencoded body, `value` already percent-encoded (so %ED%A0%80 arrives as sent)."""
    return "&".join(f"{quote(name)}={value}" for name in names)


FORM_VALUES = {
    "nul": "a%00b",
    "surrogate": "a%ED%A0%80b",
    "overlong": "x" * 20_000,
}


@pytest.fixture
def everyone(world):
    """One account holding every human role, so every form renders for it."""
    user = UserFactory(username="hostile", roles=[r for r in roles.ALL_ROLES if r != roles.GATEWAY])
    client = Client()
    client.force_login(user)
    return client


def test_it_refuses_hostile_json_on_every_api_endpoint_and_changes_nothing(world, everyone):
    api_routes = [r for r in all_routes(world["samples"]) if r.path.startswith("/api/")]
    assert len(api_routes) > 15
    bodies = {"deep": DEEP, **{k: hostile_json(v) for k, v in HOSTILE_ESCAPES.items()}}
    problems = []
    for route in api_routes:
        before = row_counts()
        for method in ("post", "put", "patch"):
            for kind, body in bodies.items():
                response = getattr(everyone, method)(
                    route.path, body, content_type="application/json"
                )
                if response.status_code >= 500 or response.status_code in (200, 201):
                    problems.append(f"{method.upper()} {route.path} {kind}: {response.status_code}")
        if row_counts() != before:
            problems.append(f"{route.path}: rows changed")
    assert problems == [], "\n".join(problems)


def _forms_on(client, path):
    status, _, _, page = request(client, "get", path)
    if status != 200:
        return []
    forms = []
    for action, body in post_forms(page):
        target = urlsplit(action).path or path
        names = sorted(set(FIELD.findall(body)) - KEPT_FIELDS)
        if names:
            forms.append((target, names))
    return forms


def _post_hostile(client, target, names, problems, where):
    for kind, value in FORM_VALUES.items():
        try:
            response = client.post(
                target,
                hostile_form(names, value),
                content_type="application/x-www-form-urlencoded",
            )
        except Exception as exc:  # the test client re-raises what the view raised: a 500
            problems.append(f"{where} POST {target} {kind}: {type(exc).__name__}: {exc}")
            continue
        if response.status_code >= 500:
            problems.append(f"{where} POST {target} {kind}: {response.status_code}")


def test_it_never_answers_500_to_hostile_input_in_any_page_form(world, everyone):
    everyone.handler.enforce_csrf_checks = False
    pages = [
        r
        for r in all_routes(world["samples"])
        if not (r.is_machine or r.is_admin or r.is_public or r.path.startswith("/static/"))
        and r.path not in NOT_POSTED  # posting /accounts/logout/ would end the walk's session
    ]
    problems, forms_seen = [], 0
    for route in pages:
        # The route itself with every field name a body of ours uses, then each form it renders.
        _post_hostile(everyone, route.path, BODY_KEYS, problems, route.path)
        for target, names in _forms_on(everyone, route.path):
            forms_seen += 1
            _post_hostile(everyone, target, names, problems, route.path)
    assert forms_seen > 10
    assert problems == [], "\n".join(problems)


def test_it_never_answers_500_to_hostile_input_in_any_admin_form(world, admin_client):
    problems, forms_seen = [], 0
    for model in admin.site._registry:
        opts = model._meta
        paths = [f"/admin/{opts.app_label}/{opts.model_name}/add/"]
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            paths.append(f"/admin/{opts.app_label}/{opts.model_name}/{first.pk}/change/")
        for path in paths:
            for target, names in _forms_on(admin_client, path):
                forms_seen += 1
                _post_hostile(admin_client, target, names, problems, path)
    assert forms_seen > 10
    assert problems == [], "\n".join(problems)
