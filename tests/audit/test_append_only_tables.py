import pytest
from django.db import DatabaseError, connection, transaction

from changemgmt.audit.chain import history_models, m2m_history_models
from changemgmt.audit.models import AuditRecord
from changemgmt.tickets.models import ChangeTicket

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_it_refuses_a_raw_update_of_a_history_row(audited_ticket):
    table = ChangeTicket.history.model._meta.db_table
    with pytest.raises(DatabaseError, match="Cannot update or delete"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET title = 'rewritten' WHERE id = %s", [audited_ticket.pk]
            )
    assert audited_ticket.history.get().title == audited_ticket.title


def test_it_refuses_a_raw_delete_of_a_history_row(audited_ticket):
    table = ChangeTicket.history.model._meta.db_table
    with pytest.raises(DatabaseError, match="Cannot update or delete"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [audited_ticket.pk])
    assert audited_ticket.history.count() == 1


def test_it_refuses_a_raw_update_or_delete_of_an_audit_record(audited_ticket):
    for sql in (
        "UPDATE audit_auditrecord SET reason = 'x'",
        "DELETE FROM audit_auditrecord",
    ):
        with pytest.raises(DatabaseError):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
    assert AuditRecord.objects.filter(reason="x").count() == 0
    assert AuditRecord.objects.exists()


def test_it_installs_the_trigger_on_every_history_table():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT event_object_table FROM information_schema.triggers "
            "WHERE trigger_name LIKE 'pgtrigger_append_only_%%'"
        )
        protected = {row[0] for row in cursor.fetchall()}
    models = [*history_models(), *m2m_history_models(), AuditRecord]
    wanted = {m._meta.db_table for m in models}
    assert wanted <= protected
