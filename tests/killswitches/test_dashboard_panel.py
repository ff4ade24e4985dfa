from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from changemgmt.killswitches import gamedays
from changemgmt.killswitches.models import GameDay
from changemgmt.killswitches.panels import dashboard_panel
from changemgmt.killswitches.services import killswitch_flip

pytestmark = pytest.mark.django_db


def render(user):
    request = RequestFactory().get("/")
    request.user = user
    panel = dashboard_panel(request)
    return panel, render_to_string("killswitches/_dashboard_panel.html", {"panel": panel})


def test_it_shows_tripped_aging_and_failed_switches(switches, support_eng, platform_team, auditor):
    killswitch_flip(
        "tenant", "enterprise-tenant-12891", engaged=True, reason="pause", acting_user=support_eng
    )
    day = GameDay.objects.create(quarter="2026-Q4", scheduled_for=datetime(2026, 11, 11).date())
    exercise = gamedays.exercise_start(
        game_day=day,
        switch_path="model:openai.gpt-4o-2024-11",
        canary_slice="1%",
        acting_user=platform_team,
    )
    gamedays.exercise_verify(
        exercise, passed=False, evidence="no fallback", acting_user=platform_team
    )
    panel, html = render(auditor)
    assert 'data-tripped="tenant:enterprise-tenant-12891"' in html
    assert 'data-aging="feature:policy-search-v1"' in html  # never exercised: stale
    assert 'data-follow-up="model:openai.gpt-4o-2024-11"' in html
    assert not panel["all_clear"]


def test_it_is_all_clear_when_everything_is_current(switches, auditor):
    for switch in switches.values():
        switch.last_exercised_at = datetime.now(UTC)
        switch.save()
    panel, html = render(auditor)
    assert panel["all_clear"]
    assert "No switch tripped" in html


def test_it_offers_no_panel_to_a_gateway_account(gateway):
    request = RequestFactory().get("/")
    request.user = gateway
    assert dashboard_panel(request) is None
