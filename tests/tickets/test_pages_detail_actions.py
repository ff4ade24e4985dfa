import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from changemgmt.tickets import services
from changemgmt.tickets.models import ChangeTicket, State, Vote
from tests.factories import TicketFactory

pytestmark = pytest.mark.django_db


def action_forms(body):
    """Transition names with an enabled POST form on the page."""
    return set(re.findall(r'action="/tickets/[^/]+/transition/(\w+)/"', body))


def disabled_actions(body):
    return set(
        re.findall(r'class="mb-3 action action-(\w+)">\s*<button type="button"[^>]*disabled', body)
    )


def test_it_shows_the_ticket_in_sections_with_its_timeline(client, author, feature):
    ticket = TicketFactory(author=author, feature=feature, eval_regression_justification="")
    client.force_login(author)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    for text in (
        ticket.change_id,
        "Rollback &amp; kill switch",
        "Blast radius",
        "Linked artifacts",
        "Release window",
        "Timeline",
        f"feature:{feature.slug}",
        "AIRR-2291",
    ):
        assert text in body


def test_it_offers_the_author_submit_and_cancel_on_a_complete_draft(client, author, feature):
    ticket = TicketFactory(author=author, feature=feature)
    client.force_login(author)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert action_forms(body) == {"submit", "cancel"}
    assert "approve" not in action_forms(body)
    assert 'id="completeness"' not in body


def test_it_lists_what_an_incomplete_draft_misses_and_why_submit_is_refused(
    client, author, feature
):
    ticket = TicketFactory(author=author, feature=feature, rollback_plan="revert", pr_url="")
    client.force_login(author)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert 'data-field="rollback_plan"' in body and 'data-field="pr_url"' in body
    assert "submit" in disabled_actions(body)
    assert "The ticket is incomplete" in body and "Link the pull request." in body


def test_it_highlights_a_regression_and_its_justification(client, author, feature):
    ticket = TicketFactory(
        author=author,
        feature=feature,
        eval_deltas=[("groundedness", 0.812, 0.822), ("refusal_correctness", 0.95, 0.90)],
        eval_regression_justification="Refusals drop on the new product line by design.",
    )
    client.force_login(author)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert body.count("eval-regression") == 1
    assert re.search(r'class="table-danger eval-regression">\s*<td>refusal_correctness', body)
    assert 'class="highlight-justification' in body and "by design" in body


def test_it_shows_nothing_a_cab_member_can_do_on_a_draft(client, cab_platform, feature):
    ticket = TicketFactory(feature=feature)
    client.force_login(cab_platform)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert action_forms(body) == set()
    assert "Nothing your role can do" in body
    assert "/review/" not in body


def test_it_shows_votes_and_missing_seats_and_a_review_link(
    client, submitted_ticket, cab, all_ticked
):
    services.vote_cast(
        submitted_ticket, acting_user=cab["cab_platform"], decision="approve", checklist=all_ticked
    )
    client.force_login(cab["cab_feature"])
    body = client.get(f"/tickets/{submitted_ticket.change_id}/").content.decode()
    assert "Approve</strong> by cab_platform" in body
    assert re.search(r'class="seat-missing"><td>CAB: feature team', body)
    assert f"/tickets/{submitted_ticket.change_id}/review/" in body
    assert action_forms(body) == {"request_changes", "reject"}


def test_it_records_request_changes_from_the_ticket_page_as_a_vote(client, submitted_ticket, cab):
    client.force_login(cab["cab_risk"])
    url = f"/tickets/{submitted_ticket.change_id}/transition/request_changes/"
    response = client.post(url, {"reason": ""}, follow=True)
    assert "A comment is required" in response.content.decode()
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.state == State.SUBMITTED and not Vote.objects.exists()
    client.post(url, {"reason": "Name the paging list owner."})
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.state == State.DRAFT
    vote = Vote.objects.get()
    assert (vote.voter, vote.seat, vote.decision, vote.comment) == (
        cab["cab_risk"],
        "cab_risk",
        "request_changes",
        "Name the paging list owner.",
    )


def test_it_offers_emergency_approve_to_an_exec_approver(client, exec_approver, feature):
    ticket = TicketFactory(
        feature=feature, emergency=True, emergency_justification="Jailbreak is public."
    )
    client.force_login(exec_approver)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert action_forms(body) == {"emergency_approve"}
    assert 'name="confirm"' in body and 'id="reason-emergency_approve"' in body
    client.post(
        f"/tickets/{ticket.change_id}/transition/emergency_approve/",
        {"reason": "Jailbreak is public.", "confirm": "on"},
    )
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED and ticket.retrospective_due


@pytest.mark.parametrize(
    "post, said",
    [
        ({"confirm": "on"}, "A reason is required."),
        ({"reason": "Jailbreak is public."}, "Tick the confirmation"),
    ],
)
def test_it_refuses_emergency_approve_without_reason_or_confirmation(
    client, exec_approver, feature, post, said
):
    ticket = TicketFactory(
        feature=feature, emergency=True, emergency_justification="Jailbreak is public."
    )
    client.force_login(exec_approver)
    response = client.post(
        f"/tickets/{ticket.change_id}/transition/emergency_approve/", post, follow=True
    )
    assert said in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT


def test_it_submits_through_the_transition_view(client, author, feature):
    ticket = TicketFactory(author=author, feature=feature)
    client.force_login(author)
    response = client.post(f"/tickets/{ticket.change_id}/transition/submit/", follow=True)
    ticket.refresh_from_db()
    assert ticket.state == State.SUBMITTED
    assert f"{ticket.change_id} is now submitted." in response.content.decode()
    assert ticket.history.first().history_user == author


def test_it_redirects_back_with_the_reasons_when_a_guard_refuses(client, author, feature):
    ticket = TicketFactory(author=author, feature=feature, pr_url="")
    client.force_login(author)
    response = client.post(f"/tickets/{ticket.change_id}/transition/submit/")
    assert response.status_code == 302 and response.url == f"/tickets/{ticket.change_id}/"
    page = client.get(response.url).content.decode()
    assert "Submit refused: The ticket is incomplete" in page and "Link the pull request." in page
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT


def test_it_requires_a_reason_to_cancel(client, author, feature):
    ticket = TicketFactory(author=author, feature=feature)
    client.force_login(author)
    client.post(f"/tickets/{ticket.change_id}/transition/cancel/", {"reason": "  "})
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT
    client.post(
        f"/tickets/{ticket.change_id}/transition/cancel/", {"reason": "Superseded by a new ticket"}
    )
    ticket.refresh_from_db()
    assert ticket.state == State.CANCELLED and ticket.last_reason == "Superseded by a new ticket"


def test_it_answers_403_with_the_reason_for_a_role_that_may_not(
    client, submitted_ticket, release_manager
):
    client.force_login(release_manager)
    response = client.post(f"/tickets/{submitted_ticket.change_id}/transition/withdraw/")
    assert response.status_code == 403
    assert "Only the ticket&#x27;s author may withdraw it." in response.content.decode()
    response = client.post(f"/tickets/{submitted_ticket.change_id}/transition/approve/")
    assert response.status_code == 403
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.state == State.SUBMITTED


def test_it_refuses_a_transition_the_state_does_not_allow(client, author, submitted_ticket):
    client.force_login(author)
    response = client.post(f"/tickets/{submitted_ticket.change_id}/transition/submit/", follow=True)
    assert "A submitted ticket cannot submit." in response.content.decode()


def test_it_answers_404_for_an_unknown_transition_and_405_for_get(client, author, feature):
    ticket = TicketFactory(author=author, feature=feature)
    client.force_login(author)
    assert client.post(f"/tickets/{ticket.change_id}/transition/explode/").status_code == 404
    assert client.get(f"/tickets/{ticket.change_id}/transition/submit/").status_code == 405


def approved(ticket, cab, all_ticked):
    for seat in ("cab_platform", "cab_feature"):
        services.vote_cast(ticket, acting_user=cab[seat], decision="approve", checklist=all_ticked)
    ticket.refresh_from_db()
    return ticket


@time_machine.travel(datetime(2027, 2, 1, 12, 0, tzinfo=UTC), tick=False)
def test_it_schedules_with_a_start_in_the_policy_zone(
    client, submitted_ticket, release_manager, cab, all_ticked
):
    ticket = approved(submitted_ticket, cab, all_ticked)
    client.force_login(release_manager)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert "schedule" in action_forms(body) and 'type="datetime-local"' in body
    url = f"/tickets/{ticket.change_id}/transition/schedule/"
    response = client.post(url, {"planned_start": "not a date"}, follow=True)
    assert "Schedule refused: Planned start: Enter a date and time." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == State.APPROVED and ticket.planned_start is None
    # Wednesday 10:00 New York: inside the default standard window.
    client.post(url, {"planned_start": "2027-02-10T10:00"})
    ticket.refresh_from_db()
    assert ticket.state == State.SCHEDULED
    assert ticket.planned_start == datetime(2027, 2, 10, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    assert ticket.planned_start == datetime(2027, 2, 10, 15, 0, tzinfo=UTC)


@time_machine.travel(datetime(2027, 2, 1, 12, 0, tzinfo=UTC), tick=False)
def test_it_reads_and_shows_times_in_the_viewers_zone(
    client, submitted_ticket, release_manager, cab, all_ticked
):
    ticket = approved(submitted_ticket, cab, all_ticked)
    client.force_login(release_manager)
    client.cookies["tz"] = "Europe%2FBerlin"
    # 16:00 in Berlin is Wednesday 10:00 in New York: inside the standard window.
    client.post(
        f"/tickets/{ticket.change_id}/transition/schedule/", {"planned_start": "2027-02-10T16:00"}
    )
    ticket.refresh_from_db()
    assert ticket.state == State.SCHEDULED
    assert ticket.planned_start == datetime(2027, 2, 10, 15, 0, tzinfo=UTC)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert "Wed 2027-02-10 16:00 CET" in body and "(Wed 10:00 EST America/New_York)" in body
    for bogus in ("../../etc/passwd", "America", "Europe%2FBerlin%00", ""):
        client.cookies["tz"] = bogus
        body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
        assert "Wed 2027-02-10 10:00 EST" in body, bogus


def test_it_lets_nobody_without_a_role_read_tickets(client, outsider, gateway, feature):
    ticket = TicketFactory(feature=feature)
    for user in (outsider, gateway):
        client.force_login(user)
        for url in ("/tickets/", f"/tickets/{ticket.change_id}/", "/tickets/cab/"):
            assert client.get(url).status_code == 403, url
        assert (
            client.post(
                f"/tickets/{ticket.change_id}/transition/cancel/", {"reason": "x"}
            ).status_code
            == 403
        )
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT


def test_it_sends_anonymous_visitors_to_log_in(client, feature):
    ticket = TicketFactory(feature=feature)
    for url in (
        "/tickets/",
        f"/tickets/{ticket.change_id}/",
        "/tickets/cab/",
        f"/tickets/{ticket.change_id}/review/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    response = client.post(f"/tickets/{ticket.change_id}/transition/cancel/", {"reason": "x"})
    assert response.status_code == 302
    assert ChangeTicket.objects.get().state == State.DRAFT and not Vote.objects.exists()


def test_it_lets_an_auditor_read_but_offers_no_action(client, auditor, feature):
    ticket = TicketFactory(feature=feature)
    client.force_login(auditor)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert action_forms(body) == set() and "Edit draft" not in body
    edit_page = client.get(f"/tickets/{ticket.change_id}/edit/").content.decode()
    assert 'id="read-only"' in edit_page and "Save draft</button>" not in edit_page
    response = client.post(f"/tickets/{ticket.change_id}/edit/", {"title": "Audited"})
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.title != "Audited"


def test_it_closes_a_deployed_ticket_with_review_notes(client, release_manager, feature):
    ticket = TicketFactory(release_manager=release_manager, feature=feature)
    # Test setup only: jump straight to deployed (the ramp itself is the rollouts app's test).
    ChangeTicket.objects.filter(pk=ticket.pk).update(state=State.DEPLOYED)
    client.force_login(release_manager)
    body = client.get(f"/tickets/{ticket.change_id}/").content.decode()
    assert action_forms(body) == {"close", "roll_back"}
    assert 'name="review_notes"' in body and 'name="metrics_held"' in body
    url = f"/tickets/{ticket.change_id}/transition/close/"
    response = client.post(url, {"review_notes": "  "}, follow=True)
    assert "Close refused: Closing needs the post-deploy" in response.content.decode()
    response = client.post(url, {"review_notes": "x" * 10001}, follow=True)
    assert "Close refused" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == State.DEPLOYED and ticket.review_notes == ""
    client.post(url, {"review_notes": "Metrics held; 10 minutes.", "metrics_held": "on"})
    ticket.refresh_from_db()
    assert ticket.state == State.CLOSED
    assert ticket.review_notes == "Metrics held; 10 minutes." and ticket.metrics_held is True
