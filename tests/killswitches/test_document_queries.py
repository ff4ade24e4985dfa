"""A policy document reads the release policy's time zone once, however many tenant switches
expire: each one read it again, one query per expiring switch in every build."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from changemgmt.killswitches import document
from tests.killswitches.factories import TenantSwitchFactory

pytestmark = pytest.mark.django_db


def queries_for_the_switches_json():
    found = document.switches()
    with CaptureQueriesContext(connection) as queries:
        body = document.switches_json(found)
    return len(queries.captured_queries), body


def test_the_document_reads_the_time_zone_once_for_any_number_of_expiring_switches():
    TenantSwitchFactory(ai_disabled=True, expires=date(2027, 1, 15))
    one, _ = queries_for_the_switches_json()
    for day in range(2, 12):
        TenantSwitchFactory(ai_disabled=True, expires=date(2027, 1, day))
    eleven, body = queries_for_the_switches_json()
    assert (one, eleven) == (1, 1)
    lifted = [s["expires_at"] for s in body["tenant_kill_switches"].values()]
    assert len(lifted) == 11 and all(at.endswith("+00:00") for at in lifted)
    # America/New_York (the default policy): the end of Jan 15 there is 05:00 UTC on Jan 16.
    assert "2027-01-16T05:00:00+00:00" in lifted


def test_without_an_expiring_switch_it_reads_no_time_zone():
    TenantSwitchFactory(ai_disabled=True, expires=None)
    assert queries_for_the_switches_json()[0] == 0
