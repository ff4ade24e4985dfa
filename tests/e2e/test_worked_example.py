"""The article's worked example, end to end in Chromium with a moved clock.

A prompt change to `support-assistant` (Medium tier, customer-facing, 4,000,000 users): the author
files it through the form with the eval delta (groundedness +1.2%) and submits it on Monday; the
CAB approves it at Tuesday's 10am standup; the release manager books Wednesday 10:00
(America/New_York) from the picker and starts it then; healthy samples are posted through the API
and the ramp advances 1% → 10% (10:30) → 50% (14:30) → 100% (Thursday 14:30) → deployed; the
post-deploy review on Friday morning closes the ticket with notes and "metrics held".

The live server runs in a thread of this process, so time-machine's clock is the server's clock.
A screenshot of every step goes to test-results/worked-example/NN-step.png.
"""

import io
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from changemgmt.tickets.models import ChangeTicket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NY = ZoneInfo("America/New_York")
PASSWORD = "worked-example-pw-0"
SHOTS = Path(
    os.environ.get(
        "WORKED_EXAMPLE_SHOTS", Path(settings.BASE_DIR, "test-results", "worked-example")
    )
)
HEALTHY = {
    "eval_score_drift": 0.001,
    "negative_feedback_rate": 0.01,
    "error_rate": 0.002,
    "latency_p95_ms": 900.0,
}
SAMPLES_PER_METRIC = 20  # the tier policy's minimum per stage


def ny(*args):
    return datetime(*args, tzinfo=NY)


class Story:
    """The browser, the clock and the screenshots, step by step."""

    def __init__(self, page, base, traveller):
        self.page = page
        self.base = base
        self.traveller = traveller
        self.step = 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob("*.png"):
            old.unlink()

    def at(self, instant):
        self.traveller.move_to(instant)

    def shot(self, name):
        self.step += 1
        SHOTS.mkdir(parents=True, exist_ok=True)  # another pytest-playwright session may wipe it
        self.page.screenshot(path=str(SHOTS / f"{self.step:02d}-{name}.png"), full_page=True)

    def log_in(self, username):
        page = self.page
        page.context.clear_cookies()
        page.goto(f"{self.base}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.base}/")

    def ticket_page(self, change_id):
        self.page.goto(f"{self.base}/tickets/{change_id}/")

    def state(self, change_id):
        return ChangeTicket.objects.get(change_id=change_id).state

    def post_healthy_samples(self, change_id, observed_at, token):
        rows = [
            {
                "metric": metric,
                "value": value,
                # k ms before `observed_at` (the clock): a sample from the future is refused.
                "observed_at": (observed_at - timedelta(milliseconds=k)).isoformat(),
            }
            for metric, value in HEALTHY.items()
            for k in range(SAMPLES_PER_METRIC)
        ]
        response = self.page.request.post(
            f"{self.base}/api/v1/changes/{change_id}/metrics/",
            data=rows,
            headers={"Authorization": f"Token {token}"},
        )
        assert response.status == 201, response.text()

    def advance(self, instant):
        self.at(instant)
        out = io.StringIO()
        call_command("advance_rollouts", now=instant.isoformat(), stdout=out)
        return out.getvalue()


def ramp_percent(page):
    return page.locator("#ramp-current").inner_text()


def test_it_ships_the_prompt_change_to_the_support_assistant(page, live_server):
    with time_machine.travel(ny(2027, 2, 8, 15, 0), tick=False) as traveller:
        # Monday: the demo world (its game day dated today, so the kill switch is current).
        call_command("seed_demo", password=PASSWORD, stdout=io.StringIO())
        story = Story(page, live_server.url, traveller)
        observability = Token.objects.create(user_id=_user_id("observability")).key

        # ----- Monday 15:00: the author files the change with the eval delta, and submits -----
        story.log_in("author")
        page.goto(f"{story.base}/tickets/new/")
        page.fill("#id_title", "Handle the new travel-insurance product line")
        page.fill("#id_summary", "Prompt update for the support assistant: new product line.")
        page.select_option("#id_feature", value=str(_feature_id("support-assistant")))
        page.select_option("#id_classification", value="prompt")
        page.fill(
            "#id_rollback_plan",
            "1. Flip feature:support-assistant off (falls back to human-agent-queue). "
            "2. Re-pin prompt support-assistant@41. 3. Confirm the eval dashboard is at baseline.",
        )
        page.select_option("#id_kill_switch", value="feature:support-assistant")
        page.fill("#id_users_affected", "4000000")
        for region in ("AU", "CA", "EU", "US"):
            page.check(f"input[name=regions][value={region}]")
        page.fill("#id_max_traffic_percent", "50")
        page.fill("#id_pr_url", "https://git.example.com/ai/support/pull/812")
        page.fill("#id_prompt_version", "support-assistant@42")
        page.fill("#id_risk_review_ticket", "AIRR-2291")
        page.select_option("#id_release_manager", value=str(_user_id("release_manager")))
        page.fill("#id_bridge_url", "https://meet.example.com/rel")
        page.fill("#id_bridge", "release_manager")
        page.fill("#id_paging_list", "ai-oncall@example.com")
        page.fill("input[name='evals-0-metric']", "groundedness")
        page.fill("input[name='evals-0-baseline']", "0.812")
        page.fill("input[name='evals-0-candidate']", "0.822")  # +1.2% relative
        story.shot("author-fills-the-ticket")
        page.click("button:has-text('File the ticket')")
        page.wait_for_url(re.compile(r".*/tickets/CHG-\d{4}-\d{5}/$"))
        change_id = re.search(r"CHG-\d{4}-\d{5}", page.url).group(0)
        ticket = ChangeTicket.objects.get(change_id=change_id)
        assert (ticket.risk_tier, ticket.feature.slug, ticket.users_affected) == (
            "medium",
            "support-assistant",
            4_000_000,
        )
        delta = ticket.eval_deltas.get(metric="groundedness")
        assert round(delta.delta / delta.baseline * 100, 1) == 1.2
        assert "groundedness" in page.locator("#eval-deltas").inner_text()
        story.shot("filed-as-draft")
        page.click(".action-submit button[type=submit]")
        page.wait_for_selector("text=is now submitted")
        assert story.state(change_id) == "submitted"
        story.shot("submitted")

        # ----- Tuesday 10:00: the CAB approves at the daily standup -----
        story.at(ny(2027, 2, 9, 10, 0))
        for minute, voter in enumerate(("cab_platform", "cab_feature", "cab_customer")):
            story.at(ny(2027, 2, 9, 10, 2 + 3 * minute))
            story.log_in(voter)
            page.goto(f"{story.base}/tickets/cab/")
            item = page.locator(f".agenda-item[data-change-id='{change_id}']")
            assert item.count() == 1
            if voter == "cab_platform":
                story.shot("cab-agenda-at-the-10am-standup")
            item.locator("a:has-text('Review')").click()
            for box in page.locator("#checklist input[type=checkbox]").all():
                box.check()
            page.check("input[name=decision][value=approve]")
            story.shot(f"{voter.replace('_', '-')}-votes")
            page.click("button:has-text('Cast vote')")
            page.wait_for_url(f"{story.base}/tickets/{change_id}/")
        assert story.state(change_id) == "approved"
        ticket.refresh_from_db()
        assert ticket.approved_at == ny(2027, 2, 9, 10, 8)  # 8 minutes of discussion
        story.shot("approved-by-the-cab")

        # ----- Tuesday 11:00: the release manager books Wednesday 10:00 from the picker -----
        story.at(ny(2027, 2, 9, 11, 0))
        story.log_in("release_manager")
        story.ticket_page(change_id)
        page.locator("#slot-picker button", has_text="Wed 2027-02-10 10:00").click()
        page.locator(".alert-success", has_text="scheduled").wait_for()
        assert story.state(change_id) == "scheduled"
        assert ChangeTicket.objects.get(change_id=change_id).planned_start == ny(2027, 2, 10, 10)
        story.shot("scheduled-wednesday-10am")

        # ----- Wednesday 10:00: the window opens, the release manager starts the ramp -----
        story.at(ny(2027, 2, 10, 10, 0))
        story.log_in("release_manager")
        story.ticket_page(change_id)
        page.click(".action-start button[type=submit]")
        page.wait_for_selector("#ramp-current")
        assert story.state(change_id) == "ramping"
        assert "1%" in ramp_percent(page)
        story.shot("ramping-1-percent")

        # ----- the ramp: healthy samples through the API, then the beat task's body -----
        for observed, promote_at, percent, name in (
            (ny(2027, 2, 10, 10, 10), ny(2027, 2, 10, 10, 30), "10%", "10-percent-wed-10-30"),
            (ny(2027, 2, 10, 11, 0), ny(2027, 2, 10, 14, 30), "50%", "50-percent-wed-14-30"),
            (ny(2027, 2, 10, 15, 0), ny(2027, 2, 11, 14, 30), None, "100-percent-thu-14-30"),
        ):
            story.at(observed)
            story.post_healthy_samples(change_id, observed, observability)
            out = story.advance(promote_at)
            assert change_id in out, out
            story.log_in("release_manager")
            story.ticket_page(change_id)
            if percent:
                assert story.state(change_id) == "ramping"
                assert percent in ramp_percent(page)
            story.shot(name)
        ticket.refresh_from_db()
        assert ticket.state == "deployed"
        assert ticket.deployed_at == ny(2027, 2, 11, 14, 30)
        entered = list(ticket.ramp_stages.order_by("index").values_list("percent", "entered_at"))
        assert entered == [
            (1, ny(2027, 2, 10, 10, 0)),
            (10, ny(2027, 2, 10, 10, 30)),
            (50, ny(2027, 2, 10, 14, 30)),
            (100, ny(2027, 2, 11, 14, 30)),
        ]

        # ----- Friday 09:30: the post-deploy review confirms the metrics held; closed -----
        story.at(ny(2027, 2, 12, 9, 30))
        story.log_in("release_manager")
        story.ticket_page(change_id)
        page.fill(
            "#review-notes",
            "Post-deploy review (10 min): groundedness held at +1.2%, negative feedback steady, "
            "no SLO breach at any stage.",
        )
        page.check("#metrics-held")
        story.shot("post-deploy-review")
        page.click(".action-close button[type=submit]")
        page.wait_for_load_state()
        ticket.refresh_from_db()
        assert ticket.state == "closed"
        assert ticket.metrics_held is True
        assert ticket.closed_at == ny(2027, 2, 12, 9, 30)
        assert "groundedness held" in ticket.review_notes
        story.shot("closed")

        # Four days from filing to closing, and the record says who did what, when.
        assert (ticket.closed_at - ticket.submitted_at).days == 3
        who = {
            h.history_change_reason.split(":")[0]: h.history_user.username
            for h in ticket.history.exclude(history_change_reason__startswith="promote")
            if h.history_user is not None and h.history_change_reason
        }
        assert who.get("submit") == "author"
        assert who.get("start") == "release_manager"
        assert who.get("close") == "release_manager"


def _user_id(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username).pk


def _feature_id(slug):
    from changemgmt.catalog.models import AIFeature

    return AIFeature.objects.get(slug=slug).pk
