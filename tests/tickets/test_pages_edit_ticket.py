import pytest

from changemgmt.tickets import services
from changemgmt.tickets.models import EvalDelta
from tests.factories import TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def edit_data(ticket_form_data, ticket, **overrides):
    rows = list(ticket.eval_deltas.all())
    data = ticket_form_data(
        **{
            "evals-TOTAL_FORMS": str(len(rows) + 1),
            "evals-INITIAL_FORMS": str(len(rows)),
            "evals-0-metric": None,
            "evals-0-baseline": None,
            "evals-0-candidate": None,
            "evals-1-metric": None,
            "evals-1-baseline": None,
            "evals-1-candidate": None,
            "evals-1-higher_is_better": None,
        }
    )
    for i, row in enumerate(rows):
        data[f"evals-{i}-metric"] = row.metric
        data[f"evals-{i}-baseline"] = str(row.baseline)
        data[f"evals-{i}-candidate"] = str(row.candidate)
        data[f"evals-{i}-higher_is_better"] = str(row.higher_is_better)
    data.update(overrides)
    return data


def test_it_shows_the_draft_in_the_form(client, author, feature):
    ticket = TicketFactory(author=author, feature=feature, bridge=["author"])
    client.force_login(author)
    body = client.get(f"/tickets/{ticket.change_id}/edit/").content.decode()
    assert ticket.title in body
    assert 'value="groundedness"' in body
    assert 'value="author"' in body  # bridge rendered back as a comma list
    assert "ai-oncall@example.com" in body


def test_it_edits_a_draft_and_its_eval_rows(client, author, feature, ticket_form_data):
    ticket = TicketFactory(author=author, feature=feature)
    client.force_login(author)
    n = ticket.eval_deltas.count()
    data = edit_data(
        ticket_form_data,
        ticket,
        title="Handle the new travel-insurance product line (v2)",
        **{
            "evals-0-DELETE": "on",
            f"evals-{n}-metric": "refusal_correctness",
            f"evals-{n}-baseline": "0.95",
            f"evals-{n}-candidate": "0.94",
            f"evals-{n}-higher_is_better": "True",
        },
    )
    response = client.post(f"/tickets/{ticket.change_id}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket.refresh_from_db()
    assert ticket.title.endswith("(v2)")
    assert list(ticket.eval_deltas.values_list("metric", flat=True)) == ["refusal_correctness"]
    last = ticket.history.first()
    assert last.history_user == author and last.history_change_reason == "edited"


def test_it_refuses_to_edit_a_submitted_ticket_and_says_why(
    client, submitted_ticket, author, ticket_form_data
):
    client.force_login(author)
    page = client.get(f"/tickets/{submitted_ticket.change_id}/edit/")
    assert page.status_code == 409
    assert "Withdraw it to make changes" in page.content.decode()
    response = client.post(
        f"/tickets/{submitted_ticket.change_id}/edit/",
        edit_data(ticket_form_data, submitted_ticket, title="Changed"),
    )
    assert response.status_code == 409
    submitted_ticket.refresh_from_db()
    assert submitted_ticket.title != "Changed"


def test_it_refuses_to_edit_an_approved_ticket(client, author, submitted_ticket, cab, all_ticked):
    for seat in ("cab_platform", "cab_feature"):
        services.vote_cast(
            submitted_ticket, acting_user=cab[seat], decision="approve", checklist=all_ticked
        )
    client.force_login(author)
    page = client.get(f"/tickets/{submitted_ticket.change_id}/edit/")
    assert page.status_code == 409
    assert "fields are frozen" in page.content.decode()
    assert "needs a new ticket" in page.content.decode()


def test_it_lets_only_the_author_edit(client, feature, ticket_form_data):
    ticket = TicketFactory(feature=feature)
    other_author = UserFactory(username="another-author", roles=["author"])
    client.force_login(other_author)
    assert client.get(f"/tickets/{ticket.change_id}/edit/").status_code == 403
    response = client.post(
        f"/tickets/{ticket.change_id}/edit/", edit_data(ticket_form_data, ticket, title="Mine")
    )
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.title != "Mine"


def test_it_refuses_lowering_the_tier_on_edit(client, author, feature, ticket_form_data):
    ticket = TicketFactory(author=author, feature=feature)
    client.force_login(author)
    response = client.post(
        f"/tickets/{ticket.change_id}/edit/", edit_data(ticket_form_data, ticket, risk_tier="low")
    )
    assert response.status_code == 400
    assert "never lowered" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.risk_tier == "medium"
    assert EvalDelta.objects.filter(ticket=ticket).count() == 1


def test_it_answers_404_for_an_unknown_ticket(client, author):
    client.force_login(author)
    assert client.get("/tickets/CHG-2026-99999/edit/").status_code == 404
