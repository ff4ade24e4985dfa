"""Odd input to the ticket pages gets a form error, a 400 or a 404 — never a 500."""

import pytest

from changemgmt.tickets.models import ChangeTicket

pytestmark = pytest.mark.django_db

HUGE = "9" * 30  # beyond any integer column (PostgreSQL would refuse it in a lookup)


def test_it_survives_odd_list_filters(client, author):
    client.force_login(author)
    response = client.get(f"/tickets/?feature={HUGE}&author={HUGE}&page=-1&emergency=maybe&q=%00")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [
        {"feature": HUGE},
        {"release_manager": HUGE},
        {"title": "a\x00b"},
        {"regions": ["ZZ"]},
        {"users_affected": HUGE},
        {"evals-0-baseline": "1e400"},
        {"evals-TOTAL_FORMS": "5000"},
        {"evals-0-higher_is_better": "sideways"},
    ],
)
def test_it_refuses_odd_ticket_input_with_a_400(client, author, ticket_form_data, overrides):
    client.force_login(author)
    response = client.post("/tickets/new/", ticket_form_data(**overrides))
    assert response.status_code == 400
    assert not ChangeTicket.objects.exists()


def test_it_answers_404_for_an_odd_change_id(client, author):
    client.force_login(author)
    assert client.get(f"/tickets/{HUGE}/").status_code == 404
    assert client.get("/tickets/CHG-2026-%00/review/").status_code == 404


def test_it_refuses_a_reason_with_a_nul_byte(client, author):
    from changemgmt.tickets.models import State
    from tests.factories import TicketFactory

    ticket = TicketFactory(author=author)
    client.force_login(author)
    url = f"/tickets/{ticket.change_id}/transition/cancel/"
    response = client.post(url, {"reason": "a\x00b"}, follow=True)
    assert "Cancel refused: Reason: Null characters are not allowed." in response.content.decode()
    response = client.post(url, {"reason": "x" * 5001}, follow=True)
    assert "Cancel refused: Reason:" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.state == State.DRAFT


def test_it_refuses_a_vote_comment_with_a_nul_byte(client, submitted_ticket, cab_platform):
    client.force_login(cab_platform)
    response = client.post(
        f"/tickets/{submitted_ticket.change_id}/review/",
        {"decision": "reject", "comment": "a\x00b"},
    )
    assert response.status_code == 400
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.state == "submitted"
