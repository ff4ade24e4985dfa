import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from changemgmt.tickets import services
from changemgmt.tickets.cab_views import business_age
from changemgmt.tickets.models import State, Vote
from tests.factories import FeatureFactory, TicketFactory

pytestmark = pytest.mark.django_db

# Monday 2027-02-08 15:00 UTC = 10:00 New York.
MONDAY_10AM = datetime(2027, 2, 8, 15, 0, tzinfo=UTC)


def submit_at(ticket, instant):
    with time_machine.travel(instant, tick=False):
        services.ticket_transition(ticket, "submit", acting_user=ticket.author)
    ticket.refresh_from_db()
    return ticket


def agenda_order(body):
    return re.findall(r'class="agenda-item" data-change-id="([^"]+)"', body)


def test_it_counts_only_business_days():
    friday_3pm = datetime(2027, 2, 5, 20, 0, tzinfo=UTC)  # Fri 15:00 New York
    assert business_age(friday_3pm, friday_3pm + timedelta(days=3)) == timedelta(hours=24)
    assert business_age(MONDAY_10AM, MONDAY_10AM + timedelta(hours=5)) == timedelta(hours=5)
    saturday = datetime(2027, 2, 6, 17, 0, tzinfo=UTC)
    assert business_age(saturday, saturday + timedelta(hours=20)) == timedelta(0)


def test_it_lists_submitted_tickets_oldest_first_with_what_they_need(
    client, author, release_manager, cab_platform, cab, all_ticked
):
    customer = FeatureFactory(slug="support-assistant", customer_facing=True)
    internal = FeatureFactory(slug="underwriting-decision-v2", risk_tier="high")
    newer = submit_at(
        TicketFactory(author=author, release_manager=release_manager, feature=customer),
        MONDAY_10AM + timedelta(hours=2),
    )
    older = submit_at(
        TicketFactory(
            author=author,
            release_manager=release_manager,
            feature=internal,
            eval_deltas=[("groundedness", 0.9, 0.85)],
            eval_regression_justification="Groundedness trades off for the new refusal policy.",
        ),
        MONDAY_10AM,
    )
    TicketFactory(author=author, feature=customer)  # a draft is not on the agenda
    with time_machine.travel(MONDAY_10AM + timedelta(hours=3), tick=False):
        services.vote_cast(
            older, acting_user=cab["cab_platform"], decision="approve", checklist=all_ticked
        )
        client.force_login(cab_platform)
        body = client.get("/tickets/cab/").content.decode()
    assert agenda_order(body) == [older.change_id, newer.change_id]
    rows = body.split('class="agenda-item"')[1:]
    assert "cab_feature" in rows[0] and "cab_risk" in rows[0] and "cab_platform" not in rows[0]
    assert "cab_customer" in rows[1] and "cab_platform" in rows[1]
    assert "highlight-justification" in rows[0] and "refusal policy" in rows[0]
    assert "highlight-justification" not in rows[1]
    assert "3 h" in rows[0] and "overdue" not in rows[0]
    assert "/review/" in rows[1]
    assert 'hx-get="/tickets/cab/items/"' in body and 'hx-trigger="every 60s"' in body


def test_it_marks_a_ticket_overdue_after_one_business_day(
    client, author, release_manager, feature, cab_platform
):
    friday_10am = datetime(2027, 2, 5, 15, 0, tzinfo=UTC)
    ticket = TicketFactory(author=author, release_manager=release_manager, feature=feature)
    submit_at(ticket, friday_10am)
    with time_machine.travel(friday_10am + timedelta(days=3, hours=-1), tick=False):
        client.force_login(cab_platform)
        body = client.get("/tickets/cab/items/").content.decode()  # Monday 09:00
    assert ticket.change_id in body and "overdue" not in body and "23 h" in body
    with time_machine.travel(friday_10am + timedelta(days=3, hours=1), tick=False):
        client.force_login(cab_platform)
        body = client.get("/tickets/cab/items/").content.decode()  # Monday 11:00
    assert "text-danger fw-semibold overdue" in body and "25 h · overdue" in body


def test_it_serves_the_partial_to_htmx(client, submitted_ticket, auditor):
    client.force_login(auditor)
    body = client.get("/tickets/cab/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body and submitted_ticket.change_id in body
    assert re.search(r"\b\d+ min\b", body)  # under an hour of business time: in minutes
    assert "/review/" not in body  # the auditor holds no seat


def test_it_lists_emergency_tickets_due_a_retrospective(client, exec_approver, cab_risk, feature):
    ticket = TicketFactory(feature=feature, emergency=True, emergency_justification="Jailbreak.")
    services.ticket_transition(
        ticket, "emergency_approve", acting_user=exec_approver, reason="jailbreak is public"
    )
    client.force_login(cab_risk)
    body = client.get("/tickets/cab/").content.decode()
    retro = body.split('id="retrospective-due"')[1]
    assert "emergency — retrospective CAB due" in retro and ticket.change_id in retro
    assert agenda_order(body) == []


def review(client, ticket, **data):
    return client.post(f"/tickets/{ticket.change_id}/review/", data)


def test_it_shows_the_review_page_with_the_checklist(client, submitted_ticket, cab_platform):
    client.force_login(cab_platform)
    body = client.get(f"/tickets/{submitted_ticket.change_id}/review/").content.decode()
    for text in (
        "The rollback plan is real",
        "The blast radius is sized correctly",
        "Request changes",
        "Complete for its tier.",
        submitted_ticket.rollback_plan,
    ):
        assert text in body


def test_it_approves_when_the_quorum_has_voted(client, submitted_ticket, cab, all_ticked):
    client.force_login(cab["cab_platform"])
    response = review(
        client, submitted_ticket, decision="approve", **dict.fromkeys(all_ticked, "on")
    )
    assert response.status_code == 302
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.state == State.SUBMITTED
    client.force_login(cab["cab_feature"])
    response = review(
        client, submitted_ticket, decision="approve", **dict.fromkeys(all_ticked, "on")
    )
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.state == State.APPROVED
    assert "it is approved" in client.get(response.url).content.decode()
    assert set(Vote.objects.values_list("seat", flat=True)) == {"cab_platform", "cab_feature"}


def test_it_refuses_approval_without_the_whole_checklist(client, submitted_ticket, cab_platform):
    client.force_login(cab_platform)
    response = review(client, submitted_ticket, decision="approve", ticket_complete="on")
    assert response.status_code == 400
    errors = response.content.decode().split('id="checklist-errors"')[1]
    assert "Tick every checklist item to approve" in errors and "rollback plan is real" in errors
    assert not Vote.objects.exists()


def test_it_needs_a_comment_to_request_changes_or_reject(client, submitted_ticket, cab_platform):
    client.force_login(cab_platform)
    for decision in ("request_changes", "reject"):
        response = review(client, submitted_ticket, decision=decision, comment="  ")
        assert response.status_code == 400
        assert "A comment is required to request changes or reject." in response.content.decode()
    assert not Vote.objects.exists()
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.state == State.SUBMITTED
    review(client, submitted_ticket, decision="reject", comment="No kill switch owner.")
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.state == State.REJECTED


def test_it_refuses_a_bad_decision(client, submitted_ticket, cab_platform):
    client.force_login(cab_platform)
    response = review(client, submitted_ticket, decision="rubber-stamp")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not Vote.objects.exists()


def test_it_refuses_the_author_with_the_reason(client, submitted_ticket, author, all_ticked):
    client.force_login(author)
    page = client.get(f"/tickets/{submitted_ticket.change_id}/review/")
    assert page.status_code == 403
    assert "The author cannot vote on their own ticket." in page.content.decode()
    response = review(
        client, submitted_ticket, decision="approve", **dict.fromkeys(all_ticked, "on")
    )
    assert response.status_code == 403
    assert not Vote.objects.exists()


def test_it_refuses_the_author_who_also_holds_a_seat(client, feature, release_manager, all_ticked):
    from tests.factories import UserFactory

    both = UserFactory(username="author-and-cab", roles=["author", "cab_platform"])
    ticket = submit_at(
        TicketFactory(author=both, release_manager=release_manager, feature=feature),
        datetime.now(UTC),
    )
    client.force_login(both)
    response = review(client, ticket, decision="approve", **dict.fromkeys(all_ticked, "on"))
    assert (
        response.status_code == 403
        and "cannot vote on their own ticket" in response.content.decode()
    )
    assert not Vote.objects.exists()


def test_it_refuses_people_without_a_seat(client, submitted_ticket, release_manager, auditor):
    client.force_login(release_manager)
    assert client.get(f"/tickets/{submitted_ticket.change_id}/review/").status_code == 403
    for user in (release_manager, auditor):
        client.force_login(user)
        assert review(client, submitted_ticket, decision="reject", comment="x").status_code == 403
    assert not Vote.objects.exists()
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.state == State.SUBMITTED


def test_it_lets_the_auditor_read_the_review_without_a_vote_form(client, submitted_ticket, auditor):
    client.force_login(auditor)
    response = client.get(f"/tickets/{submitted_ticket.change_id}/review/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Only a CAB seat may vote" in body and "Cast vote" not in body
    assert submitted_ticket.rollback_plan in body


def test_it_refuses_a_vote_on_a_draft(client, author, feature, cab_platform):
    ticket = TicketFactory(author=author, feature=feature)
    client.force_login(cab_platform)
    page = client.get(f"/tickets/{ticket.change_id}/review/").content.decode()
    assert "nothing up for CAB review" in page
    response = review(client, ticket, decision="reject", comment="Too early.")
    assert response.status_code == 400
    assert "Only a submitted ticket is voted on" in response.content.decode()
    assert not Vote.objects.exists()


def test_it_records_a_retrospective_review(
    client, exec_approver, cab_platform, cab_feature, feature, all_ticked
):
    ticket = TicketFactory(feature=feature, emergency=True, emergency_justification="Jailbreak.")
    services.ticket_transition(
        ticket, "emergency_approve", acting_user=exec_approver, reason="jailbreak is public"
    )
    for seat in (cab_platform, cab_feature):  # the medium tier's quorum
        client.force_login(seat)
        page = client.get(f"/tickets/{ticket.change_id}/review/").content.decode()
        assert "Retrospective CAB review" in page
        review(client, ticket, decision="approve", **dict.fromkeys(all_ticked, "on"))
    ticket.refresh_from_db()
    assert not ticket.retrospective_due
    assert all(v.retrospective for v in Vote.objects.all()) and Vote.objects.count() == 2


def test_it_shows_the_cab_queue_and_my_drafts_on_the_dashboard(
    client, author, submitted_ticket, feature
):
    draft = TicketFactory(author=author, feature=feature, title="Still thinking")
    client.force_login(author)
    body = client.get("/").content.decode()
    queue = body.split('id="panel-cab-queue"')[1].split('id="panel-my-drafts"')[0]
    drafts = body.split('id="panel-my-drafts"')[1]
    assert submitted_ticket.change_id in queue and "cab_platform, cab_feature" in queue
    assert draft.change_id in drafts and submitted_ticket.change_id not in drafts


def test_it_lets_a_person_with_several_seats_pick_one(client, submitted_ticket, all_ticked):
    from tests.factories import UserFactory

    both = UserFactory(username="platform-and-risk", roles=["cab_platform", "cab_risk"])
    client.force_login(both)
    page = client.get(f"/tickets/{submitted_ticket.change_id}/review/").content.decode()
    assert 'name="seat"' in page
    response = review(
        client,
        submitted_ticket,
        decision="approve",
        seat="cab_customer",
        **dict.fromkeys(all_ticked, "on"),
    )
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    review(
        client,
        submitted_ticket,
        decision="approve",
        seat="cab_risk",
        **dict.fromkeys(all_ticked, "on"),
    )
    assert Vote.objects.get().seat == "cab_risk"


def test_it_shows_the_kill_switchs_freshness_and_the_ramp_plan_to_the_cab(
    client, submitted_ticket, cab_platform
):
    from tests.killswitches.factories import FeatureSwitchFactory

    with time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=UTC), tick=False):
        FeatureSwitchFactory(feature=submitted_ticket.feature)
        switch = submitted_ticket.feature.kill_switch
        switch.last_exercised_at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
        switch.save()
    with time_machine.travel(datetime(2026, 11, 26, 15, 0, tzinfo=UTC), tick=False):
        client.force_login(cab_platform)
        body = client.get(f"/tickets/{submitted_ticket.change_id}/review/").content.decode()
    checklist_item = re.search(r'id="checklist-kill-switch">(.*?)</div>', body, re.S).group(1)
    assert (
        f"<code>{submitted_ticket.kill_switch}</code> last exercised 2026-03-02" in checklist_item
    )
    assert 'data-freshness="stale"' in checklist_item
    assert 'id="killswitch-panel"' in body
    assert 'id="ramp-plan"' in body  # the stages the CAB approves
