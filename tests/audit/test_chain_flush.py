"""The pre-commit flush chains each record exactly once, even when chaining itself opens and
closes a savepoint (the head row created on a database a test flush emptied)."""

import pytest
from django.db import transaction

from changemgmt.audit.models import AuditHead, AuditRecord
from changemgmt.audit.verification import verify
from tests.windows.factories import make_freeze, ny

pytestmark = pytest.mark.django_db


def test_it_chains_once_when_the_head_row_is_created_during_the_flush():
    AuditHead.objects.all().delete()  # what a TransactionTestCase's flush leaves behind
    with transaction.atomic():
        freeze = make_freeze("Q4 close", ny(2026, 12, 28), ny(2027, 1, 5, 9))
    (record,) = AuditRecord.objects.filter(object_model="windows.freeze")
    assert record.object_id == str(freeze.pk) and record.seq == 1
    assert AuditHead.objects.get(pk=1).seq == 1
    verify(live=False)  # raises on a broken link
