"""An auditor filters the audit log and downloads the CSV, in a real browser."""

import csv
import io

import pytest

from changemgmt.audit.models import AuditRecord
from changemgmt.audit.recording import save_audited
from tests.factories import TicketFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-0"  # tests.factories.UserFactory's


def test_it_filters_the_log_and_downloads_the_filtered_csv(page, live_server, auditor, author):
    ticket = TicketFactory(author=author, title="Travel insurance prompt")
    ticket.title = "Travel insurance prompt v2"
    save_audited(ticket, acting_user=author, reason="clarified the product line")
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "auditor")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/audit/")
    page.select_option("#id_object_type", "tickets.changeticket")
    page.fill("#id_user", "author")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url("**/audit/?*")
    expected = AuditRecord.objects.filter(
        object_model="tickets.changeticket", actor_username="author"
    ).order_by("seq")
    rows = page.locator("#audit-records > tbody > tr")
    assert rows.count() == expected.count() >= 1
    assert "clarified the product line" in rows.first.inner_text()

    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    assert download.suggested_filename == "audit-log.csv"
    exported = list(csv.DictReader(io.StringIO(open(download.path()).read())))
    assert [r["seq"] for r in exported] == [str(r.seq) for r in expected]
    assert exported[-1]["action"] == "changed"
    assert {r["object type"] for r in exported} == {"tickets.changeticket"}
    assert exported[-1]["why"] == "clarified the product line"
    assert {r["user"] for r in exported} == {"author"}
