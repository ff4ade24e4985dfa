"""The ramp on the ticket page and the dashboard, the plan form, and the manual controls."""

import pytest
import time_machine

from changemgmt.rollouts.models import Breach, RampStage
from tests.factories import TicketFactory
from tests.rollouts.conftest import feed, ny, stage_percent, tick

AT = ny(2027, 2, 10, 10, 15)


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def test_it_shows_the_plan_progress_and_timeline_on_the_ticket_page(
    as_user, ramping_ticket, auditor
):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10), n=3)
    with time_machine.travel(AT, tick=False):
        page = as_user(auditor).get(f"/tickets/{ramping_ticket.change_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="ramp-panel"' in html
    assert "40,000" in html and "2,000,000" in html  # projected users: 1% and 50% of 4M
    assert "10% at Wed 10:30, 50% at Wed 14:30, 100% at Thu 14:30" in " ".join(html.split())
    assert "Bake: 15m left" in html
    assert "ramp-chart-data" in html and "chart.umd.min.js" in html
    assert 'id="ramp-controls"' not in html  # an auditor changes nothing


def test_it_serves_the_panel_alone_for_the_live_refresh(as_user, ramping_ticket, release_manager):
    with time_machine.travel(AT, tick=False):
        response = as_user(release_manager).get(f"/ramps/{ramping_ticket.change_id}/panel/")
    html = response.content.decode()
    assert response.status_code == 200 and 'hx-trigger="every 30s"' in html
    assert "<html" not in html
    assert 'id="ramp-controls"' in html and "Promote now" in html and "Halt" in html


def test_it_refuses_pages_to_a_machine_account(as_user, ramping_ticket, gateway):
    assert as_user(gateway).get(f"/ramps/{ramping_ticket.change_id}/panel/").status_code == 403
    assert as_user(gateway).get("/ramps/dashboard-panel/").status_code == 403


def test_it_lists_active_ramps_on_the_dashboard(as_user, ramping_ticket, author):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    with time_machine.travel(AT, tick=False):
        html = as_user(author).get("/").content.decode()
    assert 'id="ramps-dashboard"' in html
    assert ramping_ticket.change_id in html
    assert "Next: 10% at Wed 10:30" in html
    assert "error_rate 0.002" in html


def test_it_halts_and_rolls_back_from_the_page_with_a_reason(
    as_user, ramping_ticket, release_manager
):
    url = f"/ramps/{ramping_ticket.change_id}/control/halt/"
    with time_machine.travel(AT, tick=False):
        client = as_user(release_manager)  # log in on the moved clock (sessions expire)
        client.post(url, {"reason": ""})
        ramping_ticket.refresh_from_db()
        assert ramping_ticket.state == "ramping"  # a reason is required
        client.post(url, {"reason": "bridge saw odd refusals"})
        ramping_ticket.refresh_from_db()
        assert ramping_ticket.state == "halted"
        client.post(f"/ramps/{ramping_ticket.change_id}/control/roll_back/", {"reason": "bad"})
    ramping_ticket.refresh_from_db()
    assert ramping_ticket.state == "rolled_back"
    assert ramping_ticket.history.first().history_user == release_manager


def test_it_refuses_controls_to_anyone_but_the_release_manager(as_user, ramping_ticket, author):
    with time_machine.travel(AT, tick=False):
        response = as_user(author).post(
            f"/ramps/{ramping_ticket.change_id}/control/halt/", {"reason": "mine"}
        )
    assert response.status_code == 403
    ramping_ticket.refresh_from_db()
    assert ramping_ticket.state == "ramping"


def test_it_refuses_promote_now_before_the_bake_ends(as_user, ramping_ticket, release_manager):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    with time_machine.travel(AT, tick=False):
        response = as_user(release_manager).post(
            f"/ramps/{ramping_ticket.change_id}/control/promote/", follow=True
        )
    assert "Promote now refused: The 1% stage bakes until" in response.content.decode()
    assert stage_percent(ramping_ticket) == 1


def test_it_acknowledges_a_breach_then_resumes(as_user, ramping_ticket, release_manager):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10), n=1, error_rate=0.031)
    tick(ny(2027, 2, 10, 10, 11))
    breach = Breach.objects.get()
    with time_machine.travel(ny(2027, 2, 10, 10, 20), tick=False):
        client = as_user(release_manager)
        client.post(f"/ramps/{ramping_ticket.change_id}/control/resume/")
        ramping_ticket.refresh_from_db()
        assert ramping_ticket.state == "halted"
        url = f"/ramps/{ramping_ticket.change_id}/breaches/{breach.pk}/acknowledge/"
        refused = client.post(url, {"note": "  "}, follow=True)
        assert "Acknowledge refused: Note: Say what you found" in refused.content.decode()
        breach.refresh_from_db()
        assert breach.acknowledged_at is None
        client.post(url, {"note": "A bad deploy of the retriever, since reverted."})
        client.post(f"/ramps/{ramping_ticket.change_id}/control/resume/")
        page = client.get(f"/tickets/{ramping_ticket.change_id}/").content.decode()
    breach.refresh_from_db()
    ramping_ticket.refresh_from_db()
    assert breach.acknowledged_by == release_manager
    assert breach.acknowledgement_note == "A bad deploy of the retriever, since reverted."
    assert ramping_ticket.state == "ramping"
    # The note is on the ramp panel and in the timeline (the acknowledgement's reason).
    assert page.count("A bad deploy of the retriever, since reverted.") >= 2


# ----- the plan form -----


@pytest.fixture
def draft(author, support_assistant):
    return TicketFactory(
        author=author, feature=support_assistant, users_affected=4_000_000, max_traffic_percent=50
    )


def plan_post(stages, guards=None):
    data = {
        "stage-TOTAL_FORMS": str(len(stages)),
        "stage-INITIAL_FORMS": "0",
        "guard-TOTAL_FORMS": str(len(guards or [])),
        "guard-INITIAL_FORMS": "0",
    }
    for i, stage in enumerate(stages):
        for key, value in stage.items():
            data[f"stage-{i}-{key}"] = value
    for i, guard in enumerate(guards or []):
        for key, value in guard.items():
            data[f"guard-{i}-{key}"] = value
    return data


def test_it_creates_the_tier_default_plan_when_the_ticket_is_filed(draft):
    assert list(draft.ramp_stages.values_list("percent", "bake_minutes")) == [
        (1, 30),
        (10, 240),
        (50, 1440),
        (100, 0),
    ]
    assert draft.guards.count() == 4


def test_it_saves_a_ring_ordered_plan(as_user, draft, author):
    response = as_user(author).post(
        f"/ramps/{draft.change_id}/plan/",
        plan_post(
            [
                {
                    "percent": "1",
                    "bake_minutes": "30",
                    "tenant_segments": "internal",
                    "regions": "AU, CA",
                },
                {
                    "percent": "10",
                    "bake_minutes": "240",
                    "tenant_segments": "internal, design_partner",
                    "regions": "AU,CA,EU",
                },
                {"percent": "100", "bake_minutes": "0"},
            ],
            [
                {
                    "metric": "latency_p95_ms",
                    "threshold": "1800",
                    "severe_threshold": "4000",
                    "observe_only": "on",
                }
            ],
        ),
    )
    assert response.status_code == 302
    stages = list(draft.ramp_stages.order_by("index"))
    assert [(s.percent, s.regions) for s in stages] == [
        (1, ["AU", "CA"]),
        (10, ["AU", "CA", "EU"]),
        (100, []),
    ]
    guard = draft.guards.get(metric="latency_p95_ms")
    assert (guard.threshold, guard.observe_only) == (1800, True)
    assert stages[0].history.first().history_user == author


@pytest.mark.parametrize(
    "stages, message",
    [
        (
            [{"percent": "60", "bake_minutes": "30"}, {"percent": "100"}],
            "exceeds the ticket&#x27;s max traffic of 50%",
        ),
        (
            [{"percent": "1", "bake_minutes": "30"}, {"percent": "50", "bake_minutes": "30"}],
            "must end at 100%",
        ),
        (
            [
                {"percent": "10", "bake_minutes": "30"},
                {"percent": "5", "bake_minutes": "30"},
                {"percent": "100"},
            ],
            "traffic must grow",
        ),
        (
            [
                {"percent": "1", "bake_minutes": "30", "tenant_segments": "design_partner"},
                {"percent": "100"},
            ],
            "skip the ring order",
        ),
        (
            [{"percent": "1", "bake_minutes": "30", "regions": "EU"}, {"percent": "100"}],
            "add AU, CA first",
        ),
        (
            [
                {"percent": "1", "bake_minutes": "30", "regions": "AU,CA,EU"},
                {"percent": "5", "bake_minutes": "30", "regions": "AU,CA"},
                {"percent": "100"},
            ],
            "audience shrinks",
        ),
        (
            [
                {"percent": "1", "bake_minutes": "30", "tenant_segments": "everyone"},
                {"percent": "100"},
            ],
            "Unknown segment",
        ),
        ([{"percent": "abc"}, {"percent": "100"}], "Enter a whole number"),
    ],
)
def test_it_refuses_a_bad_plan_and_saves_nothing(as_user, draft, author, stages, message):
    before = list(RampStage.objects.filter(ticket=draft).values_list("percent", flat=True))
    response = as_user(author).post(f"/ramps/{draft.change_id}/plan/", plan_post(stages))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert list(RampStage.objects.filter(ticket=draft).values_list("percent", flat=True)) == before


def test_it_refuses_projected_users_over_the_users_affected(as_user, draft, author):
    draft.users_affected = 100_000
    draft.save()
    response = as_user(author).post(
        f"/ramps/{draft.change_id}/plan/",
        plan_post([{"percent": "5", "bake_minutes": "30"}, {"percent": "100"}]),
    )
    assert response.status_code == 400
    assert "projects 200,000 users" in response.content.decode()


def test_it_refuses_the_plan_form_to_anyone_but_the_author(as_user, draft, release_manager):
    assert as_user(release_manager).get(f"/ramps/{draft.change_id}/plan/").status_code == 403


def test_it_freezes_the_plan_after_approval(as_user, scheduled_ticket, author):
    response = as_user(author).post(
        f"/ramps/{scheduled_ticket.change_id}/plan/",
        plan_post([{"percent": "5", "bake_minutes": "30"}, {"percent": "100"}]),
    )
    assert response.status_code == 409
    assert "after approval a change needs a new ticket" in response.content.decode()
    assert scheduled_ticket.ramp_stages.count() == 4


def test_it_freezes_the_plan_the_cab_is_reviewing(as_user, draft, author):
    from changemgmt.tickets.services import ticket_transition

    stages_before = list(draft.ramp_stages.values_list("percent", flat=True))
    ticket_transition(draft, "submit", acting_user=author)
    response = as_user(author).post(
        f"/ramps/{draft.change_id}/plan/",
        plan_post([{"percent": "5", "bake_minutes": "30"}, {"percent": "100"}]),
    )
    assert response.status_code == 409
    assert "frozen once the ticket is submitted: withdraw it" in response.content.decode()
    assert list(draft.ramp_stages.values_list("percent", flat=True)) == stages_before
