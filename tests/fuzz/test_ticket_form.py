"""Hypothesis fuzz of the ticket form (POST /tickets/new/ as an author): whatever is typed, the
answer is the form with its errors (400, nothing saved) or a filed draft — never a 500.

The fields are read from the rendered form (inputs, selects with their options, textareas, the
eval formset's management fields), so the fuzz follows the form as it changes.
"""

import io
import re
from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from changemgmt.tickets.models import ChangeTicket


class FormFields(HTMLParser):
    """name -> (kind, [option values]) of the fields of the page's ticket form."""

    def __init__(self):
        super().__init__()
        self.fields = {}
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            kind = attrs.get("type", "text")
            values = [attrs["value"]] if attrs.get("value") else []
            known = self.fields.get(name, (kind, []))[1]
            self.fields[name] = (kind, known + values)
        elif tag == "textarea" and name:
            self.fields[name] = ("textarea", [])
        elif tag == "select" and name:
            self._select = name
            self.fields[name] = ("select", [])
        elif tag == "option" and self._select and attrs.get("value") is not None:
            self.fields[self._select][1].append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


@pytest.fixture
def author_client(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", password="fuzz-password-0", stdout=io.StringIO())
    client = Client()
    client.login(username="author", password="fuzz-password-0")
    return client


@pytest.fixture
def form_fields(author_client):
    page = author_client.get("/tickets/new/")
    assert page.status_code == 200
    parser = FormFields()
    parser.feed(page.content.decode())
    fields = {k: v for k, v in parser.fields.items() if k != "csrfmiddlewaretoken"}
    assert "title" in fields and "rollback_plan" in fields, sorted(fields)
    return fields


nasty_text = st.one_of(
    st.text(max_size=60),
    st.text(max_size=6000),  # past every max_length
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "-1",
            "0",
            "1e309",
            "NaN",
            "inf",
            "99999999999999999999999999",
            "2027-02-30T10:00",
            "2027-02-10T10:00",
            "feature:nope",
            "model:",
            "javascript:alert(1)",
            "http://",
            "<script>alert(1)</script>",
            "'; DROP TABLE tickets_changeticket; --",
            "a" * 300,
        ]
    ),
)


EXTRA_ROW = re.compile(r"^evals-([1-9]\d*|__prefix__)-")
PLAUSIBLE = {
    "title": "Handle the new travel-insurance product line",
    "summary": "Prompt update for the support assistant",
    "classification": "prompt",
    "risk_tier": "high",  # never below the feature's tier, whichever feature is drawn
    "rollback_plan": "1. Flip feature:support-assistant. 2. Re-pin support-assistant@41.",
    "kill_switch": "feature:support-assistant",
    "bridge": "",
    "users_affected": "4000000",
    "regions": "US",
    "max_traffic_percent": "50",
    "emergency": "",
    "evals-0-metric": "groundedness",
    "evals-0-baseline": "0.812",
    "evals-0-candidate": "0.822",
    "evals-0-higher_is_better": "True",
}


def field_value(kind, options):
    choices = [st.just(o) for o in options]
    if kind == "number":
        choices.append(st.integers(-(2**70), 2**70).map(str))
        choices.append(st.floats(allow_nan=True).map(str))
    if kind == "checkbox":
        choices.append(st.sampled_from(["on", "true", "false", ""]))
    choices.append(nasty_text)
    return st.one_of(*choices)


def test_it_never_answers_500_to_random_ticket_form_input(author_client, form_fields):
    before = ChangeTicket.objects.count()
    outcomes = []
    fields = sorted(form_fields.items())
    strategies = {name: field_value(kind, options) for name, (kind, options) in fields}
    # A few fields at a time off a plausible ticket, or any subset of all of them.
    values = st.one_of(
        st.lists(st.sampled_from(sorted(strategies)), max_size=3, unique=True).flatmap(
            lambda names: st.fixed_dictionaries({n: strategies[n] for n in names})
        ),
        st.fixed_dictionaries({}, optional=strategies),
    )
    # Valid-looking data most of the time, so the fuzz gets past the first error.
    base = {
        name: options[-1]
        for name, (kind, options) in fields
        if options and kind not in ("hidden", "text") and not EXTRA_ROW.search(name)
    }
    base.update(
        {
            name: value
            for name, (kind, options) in fields
            if kind == "hidden"
            for value in options[:1]
        }
    )
    # What a browser sends for the blank eval rows: each select's first (default) option.
    base.update(
        {
            name: options[0]
            for name, (kind, options) in fields
            if kind == "select" and options and EXTRA_ROW.search(name)
        }
    )
    base.update({name: value for name, value in PLAUSIBLE.items() if name in form_fields})

    @settings(
        max_examples=80,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(overrides=values, keep_base=st.booleans(), multi=st.booleans())
    def run(overrides, keep_base, multi):
        data = {**(base if keep_base else {}), **overrides}
        if multi and data:
            # A field sent twice (or as a list) must not break a view that expects one value.
            name = sorted(data)[0]
            data[name] = [data[name], "second"]
        response = author_client.post("/tickets/new/", data)
        assert response.status_code in (302, 400, 200), response.status_code
        if response.status_code == 302:
            outcomes.append("filed")
            assert ChangeTicket.objects.count() > before
        else:
            outcomes.append("refused")

    run()
    assert "refused" in outcomes
    assert "filed" in outcomes  # the fuzz gets past validation too


class RenderedValues(HTMLParser):
    """What a browser would send for the form as rendered: every input's value, every checked box,
    every select's selected (or first) option, every textarea's text."""

    def __init__(self):
        super().__init__()
        self.data = {}
        self._select = None
        self._first = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and "__prefix__" not in name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data.setdefault(name, []).append(attrs.get("value", "on"))
            elif kind not in ("submit", "button"):
                self.data[name] = attrs.get("value", "")
        elif tag == "textarea" and name and "__prefix__" not in name:
            self._textarea = name
            self.data[name] = ""
        elif tag == "select" and name and "__prefix__" not in name:
            self._select, self._first = name, None
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._first is None:
                self._first = value
                self.data[self._select] = value
            if "selected" in attrs:
                self.data[self._select] = value

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data.lstrip("\n")


def test_it_accepts_its_own_defaults_once_the_required_fields_are_typed(author_client):
    """A person who types only the required fields and leaves every other field as the page shows
    it gets a draft, not an error about a value the page itself put there."""
    page = author_client.get("/tickets/new/")
    parser = RenderedValues()
    parser.feed(page.content.decode())
    data = parser.data
    data.update(
        {
            "title": "Handle the new travel-insurance product line",
            "summary": "Prompt update for the support assistant",
            "classification": "prompt",
            "users_affected": "4000000",
            "max_traffic_percent": "50",
        }
    )
    from changemgmt.catalog.models import AIFeature

    data["feature"] = str(AIFeature.objects.get(slug="support-assistant").pk)
    response = author_client.post("/tickets/new/", data)
    errors = re.findall(r"invalid-feedback[^>]*>(?:<div>)?([^<]+)<", response.content.decode())
    assert response.status_code == 302, f"refused its own defaults: {errors}"
