import re

import pytest

from changemgmt.tickets.models import ChangeTicket, EvalDelta
from tests.factories import FeatureFactory

pytestmark = pytest.mark.django_db


def field_errors(response, field):
    """The error block rendered right under `field` (empty when there is none)."""
    match = re.search(
        rf'id="id_{field}-errors">(.*?)</div>\s*</div>', response.content.decode(), re.S
    )
    return match.group(1) if match else ""


def test_it_files_a_ticket_and_shows_its_change_id(client, author, ticket_form_data):
    client.force_login(author)
    response = client.post("/tickets/new/", ticket_form_data())
    ticket = ChangeTicket.objects.get()
    assert re.fullmatch(r"CHG-\d{4}-\d{5}", ticket.change_id)
    assert response.status_code == 302
    assert response.url == f"/tickets/{ticket.change_id}/"
    assert ticket.author == author and ticket.state == "draft"
    assert ticket.risk_tier == "medium"  # inherited from the feature
    assert ticket.regions == ["AU", "US"]
    assert ticket.bridge == ["release_manager"]
    assert ticket.paging_list == ["ai-oncall@example.com", "sre@example.com"]
    [row] = ticket.eval_deltas.all()
    assert (row.metric, row.baseline, row.candidate, row.higher_is_better) == (
        "groundedness",
        0.812,
        0.822,
        True,
    )
    page = client.get(response.url)
    assert ticket.change_id in page.content.decode()
    assert "+0.01" in page.content.decode()  # the derived delta


def test_it_shows_the_form_in_sections(client, author):
    client.force_login(author)
    body = client.get("/tickets/new/").content.decode()
    for section in (
        "What",
        "Evals",
        "Rollback &amp; kill switch",
        "Blast radius",
        "Linked artifacts",
        "Release window",
        "Emergency",
    ):
        assert section in body
    assert 'name="state"' not in body
    assert "js/tickets.js" in body


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("title", "", "This field is required."),
        ("feature", "", "This field is required."),
        ("risk_tier", "low", "never lowered below the feature"),
        (
            "paging_list",
            "ai-oncall@example.com, not-an-address",
            "Not an email address: not-an-address",
        ),
        ("pr_url", "git.example.com pull 812", "Enter a valid URL."),
        ("bridge_url", "javascript:alert(1)", "Enter a valid URL."),
        ("bridge", "nobody-by-this-name", "Unknown username(s): nobody-by-this-name"),
        ("max_traffic_percent", "150", "less than or equal to 100"),
        ("users_affected", "-5", "greater than or equal to 0"),
    ],
)
def test_it_shows_the_error_next_to_the_field_and_saves_nothing(
    client, author, ticket_form_data, field, value, message
):
    client.force_login(author)
    response = client.post("/tickets/new/", ticket_form_data(**{field: value}))
    assert response.status_code == 400
    assert message in field_errors(response, field)
    assert "Nothing was saved" in response.content.decode()
    assert not ChangeTicket.objects.exists() and not EvalDelta.objects.exists()


def test_it_keeps_what_was_typed_when_refusing(client, author, ticket_form_data):
    client.force_login(author)
    response = client.post("/tickets/new/", ticket_form_data(title=""))
    body = response.content.decode()
    assert "support-assistant@42" in body and "groundedness" in body


def test_it_lets_the_tier_be_raised(client, author, ticket_form_data):
    client.force_login(author)
    client.post("/tickets/new/", ticket_form_data(risk_tier="high"))
    assert ChangeTicket.objects.get().risk_tier == "high"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"evals-0-baseline": "abc"}, "Enter a number."),
        ({"evals-0-candidate": "nan"}, "Enter a number."),
        ({"evals-0-metric": ""}, "This field is required."),
        (
            {
                "evals-1-metric": "groundedness",
                "evals-1-baseline": "0.1",
                "evals-1-candidate": "0.2",
            },
            "groundedness is listed twice",
        ),
        ({"evals-TOTAL_FORMS": "x"}, "ManagementForm data is missing or has been tampered"),
    ],
)
def test_it_refuses_bad_eval_rows(client, author, ticket_form_data, overrides, message):
    client.force_login(author)
    response = client.post("/tickets/new/", ticket_form_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ChangeTicket.objects.exists()


def test_it_ignores_empty_rows_and_deleted_rows(client, author, ticket_form_data):
    client.force_login(author)
    client.post(
        "/tickets/new/",
        ticket_form_data(
            **{
                "evals-1-metric": "refusal_correctness",
                "evals-1-baseline": "0.9",
                "evals-1-candidate": "0.9",
                "evals-1-DELETE": "on",
            }
        ),
    )
    assert list(EvalDelta.objects.values_list("metric", flat=True)) == ["groundedness"]


def test_it_requires_a_justification_for_an_emergency(client, author, ticket_form_data):
    client.force_login(author)
    response = client.post("/tickets/new/", ticket_form_data(emergency="on"))
    assert "needs its justification" in field_errors(response, "emergency_justification")
    assert not ChangeTicket.objects.exists()


def test_it_offers_only_existing_kill_switch_paths(client, author, ticket_form_data):
    FeatureFactory(slug="policy-search-v1")
    client.force_login(author)
    body = client.get("/tickets/new/").content.decode()
    assert 'value="feature:policy-search-v1"' in body
    response = client.post("/tickets/new/", ticket_form_data(kill_switch="feature:nope"))
    assert "Select a valid choice" in field_errors(response, "kill_switch")
    assert not ChangeTicket.objects.exists()


def test_it_refuses_filing_to_anyone_but_an_author(client, cab_platform, auditor, ticket_form_data):
    client.force_login(cab_platform)
    assert client.get("/tickets/new/").status_code == 403
    for user in (cab_platform, auditor):
        client.force_login(user)
        response = client.post("/tickets/new/", ticket_form_data())
        assert response.status_code == 403
        assert "Only an author may file a change ticket." in response.content.decode()
    assert not ChangeTicket.objects.exists()


def test_it_shows_the_auditor_a_read_only_form(client, auditor):
    client.force_login(auditor)
    body = client.get("/tickets/new/").content.decode()
    assert 'id="read-only"' in body and "<fieldset disabled>" in body
    assert "File the ticket</button>" not in body


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/tickets/new/")
    assert response.status_code == 302 and "/accounts/login/" in response.url
