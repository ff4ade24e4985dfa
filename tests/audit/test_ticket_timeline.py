from datetime import UTC, datetime

import pytest
import time_machine
from django.apps import apps
from django.template.loader import render_to_string

from changemgmt.audit.notify import notify
from changemgmt.audit.recording import save_audited
from changemgmt.audit.timeline import ticket_timeline
from changemgmt.tickets.models import Vote
from tests.factories import FeatureFactory, TicketFactory

pytestmark = pytest.mark.django_db


def at(day, hour=10):
    return time_machine.travel(datetime(2026, 3, day, hour, tzinfo=UTC), tick=False)


def feature_switch(feature, actor):
    FeatureSwitch = apps.get_model("killswitches", "FeatureSwitch")
    return save_audited(
        FeatureSwitch(feature=feature, fallback="human-agent-queue"),
        acting_user=actor,
        reason="switch created",
    )


def flip(switch, actor, reason):
    switch.enabled = not switch.enabled
    save_audited(switch, acting_user=actor, reason=reason)


@pytest.fixture
def story(author, cab_platform, platform_team):
    with at(1):
        feature = FeatureFactory(slug="support-assistant", switch=False)
        other = FeatureFactory(slug="policy-search-v1", switch=False)
        switch = feature_switch(feature, platform_team)
        other_switch = feature_switch(other, platform_team)
        flip(switch, platform_team, "flip before the ticket existed")
    with at(2):
        ticket = TicketFactory(author=author, feature=feature)
    with at(3):
        save_audited(
            Vote(
                ticket=ticket,
                voter=cab_platform,
                seat="cab_platform",
                decision="approve",
                checklist={},
                round=1,
            ),
            acting_user=cab_platform,
            reason="CAB vote: approve",
        )
        notify(
            "ticket.approve",
            subject=f"{ticket.change_id} approved",
            body="",
            recipients=["ai-oncall@example.com"],
            ticket=ticket,
        )
    with at(4):
        ticket.started_at = datetime(2026, 3, 4, 10, tzinfo=UTC)
        save_audited(ticket, acting_user=author, reason="start")
    with at(5):
        flip(switch, platform_team, "error spike: AI off")
        flip(other_switch, platform_team, "another feature's flip")
    with at(6):
        ticket.last_reason = "halted on error rate"
        save_audited(ticket, acting_user=author, reason="halt: error rate")
        ticket.rollback_plan = "Feels reversible."  # an import rewrites content after the start
        save_audited(ticket, acting_user=author, reason="imported from the old tracker")
    return ticket


def test_it_merges_history_votes_eval_rows_ramp_switch_flips_and_notices_in_order(story):
    timeline = ticket_timeline(story)
    categories = {e["category"] for e in timeline}
    assert {"ticket", "vote", "eval", "notification", "switch"} <= categories
    assert [e["seq"] for e in timeline] == sorted(e["seq"] for e in timeline)
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    vote = next(e for e in timeline if e["category"] == "vote")
    assert vote["user"] == "cab_platform"
    assert vote["reason"] == "CAB vote: approve"


def test_it_shows_only_the_flips_of_the_tickets_own_switch_during_its_life(story):
    flips = [e["reason"] for e in ticket_timeline(story) if e["category"] == "switch"]
    assert flips == ["error spike: AI off"]


def test_it_flags_content_written_after_the_ramp_started(story):
    timeline = ticket_timeline(story)
    flagged = [e for e in timeline if e["flag"]]
    assert [e["reason"] for e in flagged] == ["imported from the old tracker"]
    assert flagged[0]["flagged_fields"] == ["rollback_plan"]
    assert flagged[0]["changes"]["rollback_plan"][1] == "Feels reversible."
    lifecycle = next(e for e in timeline if e["reason"] == "halt: error rate")
    assert not lifecycle["flag"]


def test_it_renders_the_timeline_with_the_flag(story):
    html = render_to_string("audit/_timeline.html", {"timeline": ticket_timeline(story)})
    assert "Written after the ramp started: rollback_plan" in html
    assert "error spike: AI off" in html
