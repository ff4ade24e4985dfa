import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from changemgmt.audit.chain import m2m_history_models
from changemgmt.audit.models import AuditRecord
from changemgmt.catalog.models import Team
from changemgmt.tickets.models import ChangeTicket, EvalDelta

from .conftest import as_table_owner

pytestmark = pytest.mark.django_db


def verify():
    call_command("verify_audit")


def table(model):
    return model.history.model._meta.db_table


def test_it_passes_an_intact_chain_and_counts_it(audited_ticket, capsys):
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert f"{AuditRecord.objects.count()} records verified" in out
    assert "intact" in out


def test_it_shows_progress_on_a_long_chain(audited_ticket, capsys):
    call_command("verify_audit", chunk_size=5)
    err = capsys.readouterr().err
    assert "checked 5 of" in err
    assert "checked 10 of" in err


def test_it_names_the_record_of_a_history_row_edited_with_raw_sql(audited_ticket):
    row = audited_ticket.history.get()
    record = AuditRecord.objects.get(history_model="tickets.historicalchangeticket")
    with as_table_owner() as cursor:
        cursor.execute(
            f"UPDATE {table(ChangeTicket)} SET rollback_plan = %s WHERE history_id = %s",
            ["feels reversible", row.history_id],
        )
    with pytest.raises(CommandError) as broken:
        verify()
    assert f"audit record #{record.seq}:" in str(broken.value)
    assert "edited" in str(broken.value)


def test_it_names_the_record_of_a_history_row_deleted_with_raw_sql(audited_ticket):
    record = AuditRecord.objects.get(history_model="tickets.historicalevaldelta")
    with as_table_owner() as cursor:
        cursor.execute(f"DELETE FROM {table(EvalDelta)} WHERE history_id = %s", [record.history_id])
    with pytest.raises(CommandError) as broken:
        verify()
    assert f"audit record #{record.seq}:" in str(broken.value)
    assert "deleted" in str(broken.value)


def test_it_names_a_history_row_inserted_with_raw_sql(audited_ticket):
    model = ChangeTicket.history.model
    columns = [f.column for f in model._meta.concrete_fields if f.name != "history_id"]
    names = ", ".join(columns)
    with as_table_owner() as cursor:
        cursor.execute(
            f"INSERT INTO {table(ChangeTicket)} ({names}) SELECT {names} FROM "
            f"{table(ChangeTicket)} WHERE id = %s",
            [audited_ticket.pk],
        )
    forged = model.objects.order_by("-history_id").first()
    with pytest.raises(CommandError) as broken:
        verify()
    assert f"tickets.historicalchangeticket #{forged.history_id} has no audit record" in str(
        broken.value
    )


def test_it_names_an_audit_record_edited_with_raw_sql(audited_ticket):
    record = AuditRecord.objects.order_by("seq")[1]
    with as_table_owner() as cursor:
        cursor.execute(
            "UPDATE audit_auditrecord SET actor_username = %s WHERE seq = %s",
            ["someone-else", record.seq],
        )
    with pytest.raises(CommandError) as broken:
        verify()
    assert f"audit record #{record.seq}: the record itself was edited" in str(broken.value)


def test_it_names_the_gap_left_by_an_audit_record_deleted_with_raw_sql(audited_ticket):
    first, second, third = AuditRecord.objects.order_by("seq")[:3]
    with as_table_owner() as cursor:
        cursor.execute("DELETE FROM audit_auditrecord WHERE seq = %s", [second.seq])
    with pytest.raises(CommandError) as broken:
        verify()
    assert f"audit record #{third.seq}: expected #{second.seq}" in str(broken.value)


def test_it_notices_the_last_audit_records_deleted_with_raw_sql(audited_ticket):
    last = AuditRecord.objects.order_by("-seq").first()
    with as_table_owner() as cursor:
        cursor.execute("DELETE FROM audit_auditrecord WHERE seq = %s", [last.seq])
    with pytest.raises(CommandError) as broken:
        verify()
    assert f"head is at #{last.seq}" in str(broken.value)


def test_it_rejects_a_forged_record_whose_hashes_were_recomputed(audited_ticket):
    """Rewriting a record and its own hash still breaks the link from the next record."""
    first, second = AuditRecord.objects.order_by("seq")[:2]
    first.reason = "approved by the CAB"
    forged_hash = first.compute_hash()
    with as_table_owner() as cursor:
        cursor.execute(
            "UPDATE audit_auditrecord SET reason = %s, hash = %s WHERE seq = %s",
            [first.reason, forged_hash, first.seq],
        )
    with pytest.raises(CommandError) as broken:
        verify()
    assert f"audit record #{second.seq}: does not link" in str(broken.value)


def test_it_covers_the_membership_snapshots_of_m2m_history(author, outsider):
    from changemgmt.audit.recording import save_audited
    from tests.factories import TeamFactory

    team = TeamFactory(slug="ai-platform")
    team.members.add(author)  # a "~" history row with a snapshot of the members
    save_audited(team, acting_user=author, reason="renamed")
    verify()
    snapshot = m2m_history_models(Team.history.model)[0]
    changed = team.history.order_by("history_id")[1]
    record = AuditRecord.objects.get(
        history_model="catalog.historicalteam", history_id=changed.history_id
    )
    with as_table_owner() as cursor:
        cursor.execute(
            f"INSERT INTO {snapshot._meta.db_table} (id, history_id, team_id, user_id) "
            "VALUES (%s, %s, %s, %s)",
            [999, changed.history_id, team.pk, outsider.pk],
        )
    with pytest.raises(CommandError) as broken:
        verify()
    assert f"audit record #{record.seq}:" in str(broken.value)
    assert "edited" in str(broken.value)


def test_it_notices_an_audit_record_inserted_with_raw_sql(audited_ticket):
    last = AuditRecord.objects.order_by("-seq").first()
    forged = AuditRecord(
        seq=last.seq + 1,
        created_at=last.created_at,
        history_model=last.history_model,
        history_id=10_000,
        object_model=last.object_model,
        object_id=last.object_id,
        object_repr="CHG approved by the CAB",
        action="~",
        reason="approve",
        changes={},
        content_hash="0" * 64,
        prev_hash=last.hash,
    )
    forged.hash = forged.compute_hash()
    columns = [f.column for f in AuditRecord._meta.concrete_fields if f.name != "id"]
    values = [
        f.get_db_prep_save(getattr(forged, f.attname), connection)
        for f in AuditRecord._meta.concrete_fields
        if f.name != "id"
    ]
    with as_table_owner() as cursor:
        cursor.execute(
            f"INSERT INTO audit_auditrecord ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})",
            values,
        )
    with pytest.raises(CommandError) as broken:
        verify()
    assert f"audit record #{forged.seq}:" in str(broken.value)
