"""Issue 16.4: the audit log at 1,400 px — every column on screen, long values folded with the
full value on demand, the ticket filter taking a change ID, sortable columns."""

import pytest

from changemgmt.audit.models import AuditRecord
from changemgmt.audit.recording import save_audited
from tests.factories import TicketFactory
from tests.web.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

YAML = "\n".join(f"line {n}: {'x' * 70}" for n in range(30))


def test_it_fits_1400px_folds_long_values_and_filters_by_change_id(
    page, live_server, auditor, author
):
    ticket = TicketFactory(author=author, title="Travel insurance prompt")
    other = TicketFactory(author=author, title="Another change")
    ticket.rollback_plan = YAML
    save_audited(ticket, acting_user=author, reason="the rollback plan, written out in full")
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server.url, "auditor")
    page.goto(f"{live_server.url}/audit/")

    table = page.locator("#audit-records")
    container = page.locator("main")
    assert table.bounding_box()["width"] <= container.bounding_box()["width"]
    why = page.locator("#audit-records thead th", has_text="Why")
    assert why.bounding_box()["x"] + why.bounding_box()["width"] <= 1400

    row = page.locator("#audit-records tbody tr", has_text="the rollback plan, written out")
    long_value = row.locator("details.audit-long").last
    assert "30 lines, show all" in long_value.locator("summary").inner_text()
    assert not long_value.locator("pre").is_visible()
    long_value.locator("summary").click()
    assert "line 29:" in long_value.locator("pre").inner_text()
    assert "also updated: updated_at" in row.inner_text()
    screenshot(page, "audit-log-1400.png")

    page.fill("#id_ticket", ticket.change_id)
    page.get_by_role("button", name="Filter").click()
    shown = {int(t) for t in page.locator("#audit-records tbody td:first-child").all_inner_texts()}
    assert shown == set(
        AuditRecord.objects.filter(ticket_id=ticket.pk).values_list("seq", flat=True)
    )
    assert other.change_id not in page.locator("#audit-records").inner_text()

    page.fill("#id_ticket", "CHG-2026-99999")
    page.get_by_role("button", name="Filter").click()
    assert "No change ticket CHG-2026-99999" in page.locator("#audit-filters").inner_text()

    page.goto(f"{live_server.url}/audit/")
    page.get_by_role("link", name="#").click()
    seqs = [int(t) for t in page.locator("#audit-records tbody td:first-child").all_inner_texts()]
    assert seqs == sorted(seqs)


def test_the_api_takes_a_change_id_too(client, auditor, author):
    ticket = TicketFactory(author=author)
    client.force_login(auditor)
    by_change_id = client.get("/api/v1/audit/", {"ticket": ticket.change_id}).json()
    by_pk = client.get("/api/v1/audit/", {"ticket": str(ticket.pk)}).json()
    assert by_change_id["results"] and by_change_id["results"] == by_pk["results"]
    unknown = client.get("/api/v1/audit/", {"ticket": "CHG-2026-99999"})
    assert unknown.status_code == 400
    assert "CHG-2026-99999" in str(unknown.json())
