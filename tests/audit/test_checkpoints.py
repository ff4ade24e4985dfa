"""Signed checkpoints catch what the chain alone cannot: a database administrator who rewrites a
record, re-chains everything after it and moves the head, or who cuts the chain's tail."""

import http.server
import io
import json
import threading
from pathlib import Path

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from changemgmt.audit import checkpoints
from changemgmt.audit.chain import _row_values, content_hash, history_models, m2m_snapshots
from changemgmt.audit.models import AuditHead, AuditRecord

from .conftest import as_table_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(settings):
    call_command("audit_checkpoint", "--create-key", stdout=io.StringIO())
    return Path(settings.AUDIT_CHECKPOINT_KEY)


def checkpoint():
    out = io.StringIO()
    call_command("audit_checkpoint", stdout=out)
    return out.getvalue()


def verify(*args):
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def sink_lines(settings) -> list[str]:
    return Path(settings.AUDIT_CHECKPOINT_FILE).read_text().splitlines()


def test_it_signs_the_head_into_the_sink_and_verifies_against_it(audited_ticket, key, settings):
    head = AuditHead.objects.get(pk=1)
    assert f"Checkpoint #{head.seq} {head.hash}" in checkpoint()
    (line,) = sink_lines(settings)
    assert json.loads(line)["seq"] == head.seq
    out = verify()
    assert "against 1 signed checkpoint(s)" in out
    assert out.strip().splitlines()[-1] == f"Head: #{head.seq} {head.hash}"


def test_it_only_ever_appends_to_the_sink(audited_ticket, key, settings):
    checkpoint()
    first = sink_lines(settings)[0]
    audited_ticket.title = "renamed"
    audited_ticket.save()
    checkpoint()
    lines = sink_lines(settings)
    assert len(lines) == 2 and lines[0] == first
    assert json.loads(lines[1])["seq"] > json.loads(first)["seq"]


def test_it_refuses_to_checkpoint_without_a_key(audited_ticket, settings):
    settings.AUDIT_CHECKPOINT_KEY = ""
    with pytest.raises(CommandError, match="AUDIT_CHECKPOINT_KEY is not set"):
        checkpoint()
    assert not Path(settings.AUDIT_CHECKPOINT_FILE).exists()


def test_it_reads_the_key_from_a_pem_value(audited_ticket, key, settings):
    settings.AUDIT_CHECKPOINT_KEY = key.read_text()
    checkpoint()
    assert "against 1 signed checkpoint(s)" in verify()


def rechain_from(seq: int, **changes):
    """What a database administrator can do: rewrite record `seq` and its history row, recompute
    its content hash, re-chain every later record and move the head."""
    record = AuditRecord.objects.get(seq=seq)
    history = {m._meta.label_lower: m for m in history_models()}[record.history_model]
    with as_table_owner() as cursor:
        if "reason" in changes:
            cursor.execute(
                f"UPDATE {history._meta.db_table} SET history_change_reason = %s "
                "WHERE history_id = %s",
                [changes["reason"], record.history_id],
            )
        values = _row_values(history, record.history_id)
        m2m = m2m_snapshots(history, [record.history_id]).get(record.history_id, {})
        for name, value in changes.items():
            setattr(record, name, value)
        record.content_hash = content_hash(values, m2m)
        prev_hash = AuditRecord.objects.get(seq=seq - 1).hash if seq > 1 else "0" * 64
        for later in [record, *AuditRecord.objects.filter(seq__gt=seq).order_by("seq")]:
            later.prev_hash = prev_hash
            later.hash = prev_hash = later.compute_hash()
            cursor.execute(
                "UPDATE audit_auditrecord SET actor_username = %s, reason = %s, "
                "content_hash = %s, prev_hash = %s, hash = %s WHERE seq = %s",
                [
                    later.actor_username,
                    later.reason,
                    later.content_hash,
                    later.prev_hash,
                    later.hash,
                    later.seq,
                ],
            )
        cursor.execute("UPDATE audit_audithead SET hash = %s WHERE id = 1", [prev_hash])


def test_it_names_the_checkpoint_a_rewritten_and_rechained_history_contradicts(
    audited_ticket, key, settings
):
    checkpoint()
    rechain_from(2, actor_username="auditor", reason="approved by the auditor")
    # The chain alone is fooled: every hash was recomputed.
    assert "intact" in verify("--no-checkpoints")
    with pytest.raises(CommandError) as broken:
        verify()
    seq = json.loads(sink_lines(settings)[0])["seq"]
    assert f"checkpoint on line 1 (#{seq} at " in str(broken.value)
    assert "rewritten and re-chained" in str(broken.value)


def test_it_names_the_checkpoint_a_truncated_chain_is_shorter_than(audited_ticket, key):
    checkpoint()
    last = AuditRecord.objects.order_by("-seq").first()
    previous = AuditRecord.objects.get(seq=last.seq - 1)
    history = {m._meta.label_lower: m for m in history_models()}[last.history_model]
    with as_table_owner() as cursor:
        cursor.execute("DELETE FROM audit_auditrecord WHERE seq = %s", [last.seq])
        cursor.execute(
            f"DELETE FROM {history._meta.db_table} WHERE history_id = %s", [last.history_id]
        )
        cursor.execute(
            "UPDATE audit_audithead SET seq = %s, hash = %s WHERE id = 1",
            [previous.seq, previous.hash],
        )
    with pytest.raises(CommandError) as broken:
        verify("--no-live")
    assert f"checkpoint on line 1 (#{last.seq} at " in str(broken.value)
    assert f"the chain ends at #{previous.seq}" in str(broken.value)


def test_it_names_a_forged_checkpoint_line(audited_ticket, key, settings):
    checkpoint()
    checkpoint()
    genuine = json.loads(sink_lines(settings)[1])
    forged = {**genuine, "seq": genuine["seq"] - 1}
    with Path(settings.AUDIT_CHECKPOINT_FILE).open("a") as sink:
        sink.write(json.dumps(forged) + "\n")
    with pytest.raises(CommandError) as broken:
        verify()
    assert "checkpoint on line 3" in str(broken.value)
    assert "does not verify (forged)" in str(broken.value)


def test_it_names_a_checkpoint_signed_with_another_key(audited_ticket, key, settings, tmp_path):
    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings.AUDIT_CHECKPOINT_KEY = str(other)
    checkpoint()
    settings.AUDIT_CHECKPOINT_KEY = str(key)
    with pytest.raises(CommandError) as broken:
        verify()
    assert "checkpoint on line 1" in str(broken.value)
    assert "not by the checkpoint key" in str(broken.value)


def test_it_names_a_line_that_is_not_a_checkpoint(audited_ticket, key, settings):
    checkpoint()
    with Path(settings.AUDIT_CHECKPOINT_FILE).open("a") as sink:
        sink.write('{"seq": "x"}\n')
    with pytest.raises(CommandError, match="checkpoint on line 2 is not a checkpoint"):
        verify()


def test_it_posts_each_checkpoint_to_the_webhook(audited_ticket, key, settings):
    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    settings.AUDIT_CHECKPOINT_WEBHOOK = f"http://127.0.0.1:{server.server_port}/checkpoints"
    try:
        checkpoint()
    finally:
        thread.join(timeout=10)
        server.server_close()
    assert received == [json.loads(sink_lines(settings)[0])]


def test_it_is_made_by_beat_every_interval(audited_ticket, key, settings):
    from changemgmt.audit.tasks import audit_checkpoint

    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry["task"] == "changemgmt.audit.tasks.audit_checkpoint"
    assert entry["schedule"] == settings.AUDIT_CHECKPOINT_INTERVAL == 900
    assert audit_checkpoint() == AuditHead.objects.get(pk=1).seq
    assert len(checkpoints.read_checkpoints()) == 1


def test_the_audit_log_shows_the_latest_checkpoint_verified(client, auditor, audited_ticket, key):
    checkpoint()
    seq = AuditHead.objects.get(pk=1).seq
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert f"Latest signed checkpoint: <strong>#{seq}</strong>" in page
    assert ">verified<" in page


def test_the_audit_log_says_when_the_latest_checkpoint_does_not_verify(
    client, auditor, audited_ticket, key, settings
):
    checkpoint()
    line = json.loads(sink_lines(settings)[0])
    with Path(settings.AUDIT_CHECKPOINT_FILE).open("a") as sink:
        sink.write(json.dumps({**line, "head": "f" * 64}) + "\n")
    client.force_login(auditor)
    page = client.get("/audit/").content.decode()
    assert "NOT verified" in page and "does not verify (forged)" in page


def test_the_dashboard_warns_when_no_checkpoint_is_younger_than_twice_the_interval(
    client, auditor, audited_ticket, key
):
    def dashboard(at):
        with time_machine.travel(at, tick=False):
            client.force_login(auditor)
            response = client.get("/")
        assert response.status_code == 200
        return response.content.decode()

    assert "No signed checkpoint of the audit chain" in dashboard("2027-03-01 08:00Z")
    with time_machine.travel("2027-03-01 09:00Z", tick=False):
        checkpoint()
    fresh = dashboard("2027-03-01 09:29Z")
    assert 'id="process-numbers"' in fresh and 'id="audit-checkpoint"' not in fresh
    assert "None is younger than 30 minutes" in dashboard("2027-03-01 09:31Z")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_head_it_signs_is_flushed_to_disk_first(key):
    """The head is read, then a transaction that takes an id commits synchronously: the WAL of
    every commit visible to the read (an unflushed policy document's included) is on disk
    before the head is signed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        checkpoints.make_checkpoint()
    sql = [q["sql"] for q in queries.captured_queries]
    head = next(i for i, s in enumerate(sql) if "audit_audithead" in s)
    xid = sql.index("SELECT pg_current_xact_id()")
    assert head < sql.index("SET LOCAL synchronous_commit = on") < xid < sql.index("COMMIT", xid)
