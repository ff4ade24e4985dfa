import csv
import io
from datetime import UTC, datetime

import pytest
import time_machine
from django.http import StreamingHttpResponse

from changemgmt.audit.models import AuditRecord
from changemgmt.audit.recording import save_audited
from tests.factories import FeatureFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(author, release_manager):
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        feature = FeatureFactory(slug="support-assistant")
    with time_machine.travel(datetime(2026, 3, 10, 9, tzinfo=UTC), tick=False):
        ticket = TicketFactory(author=author, feature=feature, title="Travel insurance prompt")
        ticket.title = "Travel insurance prompt v2"
        save_audited(ticket, acting_user=author, reason="clarified the product line")
    return ticket


def rows(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("persona", ["auditor", "release_manager", "platform_team", "cab_risk"])
def test_it_shows_the_log_to_auditors_and_above(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/audit/")
    assert response.status_code == 200
    assert b"clarified the product line" in response.content


@pytest.mark.parametrize("persona", ["author", "outsider", "gateway", "support_eng"])
def test_it_refuses_the_log_and_export_to_everyone_else(client, world, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    assert client.get("/api/v1/audit/").status_code == 403


def test_it_shows_who_when_what_changed_and_why(client, auditor, world):
    client.force_login(auditor)
    response = client.get("/audit/", {"object_type": "tickets.changeticket"})
    page = response.context["page"]
    records = list(page.object_list)
    assert [r.action for r in records] == ["~", "+"]
    edit = records[0]
    assert edit.actor_username == "author"
    assert edit.reason == "clarified the product line"
    assert edit.changes["title"] == ["Travel insurance prompt", "Travel insurance prompt v2"]
    assert b"Travel insurance prompt v2" in response.content


def test_it_filters_by_user_object_date_and_text(client, auditor, world):
    client.force_login(auditor)

    def seqs(**params):
        return [r.seq for r in client.get("/audit/", params).context["page"].object_list]

    by_author = seqs(user="author")
    assert by_author and all(
        AuditRecord.objects.get(seq=s).actor_username == "author" for s in by_author
    )
    ticket_seqs = list(
        AuditRecord.objects.filter(object_model="tickets.changeticket")
        .order_by("-seq")
        .values_list("seq", flat=True)
    )
    assert seqs(object=world.change_id, object_type="tickets.changeticket") == ticket_seqs
    assert seqs(object=str(world.pk), object_type="tickets.changeticket") == ticket_seqs
    assert seqs(date_from="2026-03-03", object_type="catalog.aifeature") == []
    assert len(seqs(date_to="2026-03-02", object_type="catalog.aifeature")) == 1
    assert len(seqs(q="clarified")) == 1
    assert len(seqs(q="Travel insurance prompt v2")) == 1  # found inside the field diffs


def test_it_answers_bad_filters_with_field_errors_not_a_500(client, auditor, world):
    client.force_login(auditor)
    response = client.get("/audit/", {"date_from": "yesterday", "object_type": "nope.nope"})
    assert response.status_code == 400
    assert "date_from" in response.context["filter"].errors
    assert "object_type" in response.context["filter"].errors
    export = client.get("/audit/export.csv", {"date_from": "31/02/2026"})
    assert export.status_code == 400
    assert b"date_from" in export.content


def test_it_paginates(client, auditor, world):
    client.force_login(auditor)
    for n in range(60):
        save_audited(world, acting_user=auditor, reason=f"note {n}")
    first = client.get("/audit/").context["page"]
    assert len(first.object_list) == 50
    second = client.get("/audit/", {"page": 2}).context["page"]
    assert second.object_list[0].seq == first.object_list[49].seq - 1


def test_it_streams_the_csv_export_with_the_same_filters(client, auditor, world):
    client.force_login(auditor)
    response = client.get("/audit/export.csv", {"object_type": "tickets.changeticket"})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    exported = rows(response)
    assert [r["action"] for r in exported] == ["created", "changed"]
    assert exported[1]["user"] == "author"
    assert exported[1]["why"] == "clarified the product line"
    assert (
        '"title": ["Travel insurance prompt", "Travel insurance prompt v2"]'
        in (exported[1]["changes"])
    )
    all_rows = rows(client.get("/audit/export.csv"))
    assert len(all_rows) == AuditRecord.objects.count()


def test_it_neutralises_spreadsheet_formulas_in_the_export(client, auditor, world):
    save_audited(world, acting_user=auditor, reason='=HYPERLINK("http://evil")')
    client.force_login(auditor)
    exported = rows(client.get("/audit/export.csv", {"user": "auditor"}))
    assert exported[-1]["why"].startswith("'=")


def test_it_lists_records_in_the_read_only_api(client, auditor, world):
    client.force_login(auditor)
    response = client.get("/api/v1/audit/", {"user": "author"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert results and {r["actor_username"] for r in results} == {"author"}
    assert client.post("/api/v1/audit/", {}).status_code == 405


def test_the_api_caps_the_page_size_and_answers_bad_filters_with_400(client, auditor, world):
    client.force_login(auditor)
    response = client.get("/api/v1/audit/", {"limit": "100149881874481231691776", "offset": "-1"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == AuditRecord.objects.count()
    bad = client.get("/api/v1/audit/", {"date_from": "soon"})
    assert bad.status_code == 400
    assert "date_from" in bad.json()


def test_it_records_a_membership_change_as_a_diff(author, outsider):
    from tests.factories import TeamFactory

    team = TeamFactory(slug="ai-platform")
    team.members.add(author)
    team.members.add(outsider)
    first, second = AuditRecord.objects.filter(object_model="catalog.team", action="~").order_by(
        "seq"
    )
    assert first.changes == {"members": [[], [author.pk]]}
    assert second.changes == {"members": [[author.pk], sorted([author.pk, outsider.pk])]}
