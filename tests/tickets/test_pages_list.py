import re

import pytest

from changemgmt.tickets.views import PAGE_SIZE
from tests.factories import FeatureFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def listed(body):
    return re.findall(r'<a href="/tickets/(CHG-[\d-]+)/">', body)


@pytest.fixture
def tickets(author, release_manager):
    search = FeatureFactory(slug="policy-search-v1", risk_tier="low")
    support = FeatureFactory(slug="support-assistant", risk_tier="medium")
    other_author = UserFactory(username="second-author", roles=["author"])
    return {
        "low": TicketFactory(author=author, feature=search, title="Tune the search prompt"),
        "medium": TicketFactory(
            author=other_author, feature=support, classification="model_swap", title="Swap model"
        ),
        "emergency": TicketFactory(
            author=author,
            feature=support,
            title="Block the public jailbreak",
            emergency=True,
            emergency_justification="Jailbreak is public.",
        ),
    }


def test_it_lists_tickets_with_their_columns(client, auditor, tickets):
    client.force_login(auditor)
    body = client.get("/tickets/").content.decode()
    assert sorted(listed(body)) == sorted(t.change_id for t in tickets.values())
    assert 'class="badge state-badge state-draft"' in body
    assert "second-author" in body and tickets["medium"].release_manager.username in body
    assert "File a change ticket" not in body  # auditors read, they do not file


@pytest.mark.parametrize(
    "query, expected",
    [
        ("risk_tier=low", ["low"]),
        ("feature={support}", ["medium", "emergency"]),
        ("classification=model_swap", ["medium"]),
        ("emergency=true", ["emergency"]),
        ("q=jailbreak", ["emergency"]),
        ("author={second}", ["medium"]),
        ("state=submitted", []),
    ],
)
def test_it_filters_tickets(client, author, tickets, query, expected):
    query = query.format(support=tickets["medium"].feature_id, second=tickets["medium"].author_id)
    client.force_login(author)
    body = client.get(f"/tickets/?{query}").content.decode()
    assert sorted(listed(body)) == sorted(tickets[k].change_id for k in expected)


def test_it_searches_by_change_id(client, author, tickets):
    client.force_login(author)
    body = client.get(f"/tickets/?q={tickets['low'].change_id}").content.decode()
    assert listed(body) == [tickets["low"].change_id]


def test_it_shows_an_error_for_a_bad_filter_value(client, author, tickets):
    client.force_login(author)
    response = client.get("/tickets/?state=exploded&feature=abc")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert listed(response.content.decode()) == []


def test_it_paginates(client, author, tickets):
    feature = tickets["low"].feature
    for _ in range(PAGE_SIZE):
        TicketFactory(author=author, feature=feature, eval_deltas=[])
    client.force_login(author)
    first = client.get("/tickets/?risk_tier=low").content.decode()
    assert len(listed(first)) == PAGE_SIZE and "Page 1 of 2" in first
    assert "?risk_tier=low&amp;page=2" in first
    second = client.get("/tickets/?risk_tier=low&page=2").content.decode()
    assert len(listed(second)) == 1
    assert len(listed(client.get("/tickets/?page=999").content.decode())) == 3
