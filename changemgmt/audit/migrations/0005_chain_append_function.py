"""On PostgreSQL, the chain's append as one server-side call (audit.append.chain_records): the head
lock is then held for that call and the commit, with no client round trips in between."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION changemgmt_audit_append(items jsonb)
RETURNS TABLE (record_id bigint, record_seq bigint, record_prev_hash text, record_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    item jsonb;
BEGIN
    SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit_audithead h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN  -- an emptied database (a test flush): the genesis head
        INSERT INTO audit_audithead (id, seq, hash) VALUES (1, 0, repeat('0', 64))
            ON CONFLICT (id) DO NOTHING;
        SELECT h.seq, h.hash INTO head_seq, head_hash
            FROM audit_audithead h WHERE h.id = 1 FOR UPDATE;
    END IF;
    FOR item IN SELECT value FROM jsonb_array_elements(items) LOOP
        head_seq := head_seq + 1;
        record_seq := head_seq;
        record_prev_hash := head_hash;
        -- AuditRecord.compute_hash: prev_hash + content_hash + the text around the seq
        record_hash := encode(sha256(convert_to(
            head_hash || (item->>'content_hash') || (item->>'before_seq') || head_seq::text
            || (item->>'after_seq'), 'UTF8')), 'hex');
        INSERT INTO audit_auditrecord (
            seq, created_at, history_model, history_id, object_model, object_id, object_repr,
            object_key, action, actor_id, actor_username, reason, changes, ticket_id,
            content_hash, prev_hash, hash
        ) VALUES (
            head_seq, (item->>'created_at')::timestamptz, item->>'history_model',
            (item->>'history_id')::bigint, item->>'object_model', item->>'object_id',
            item->>'object_repr', item->>'object_key', item->>'action',
            (item->>'actor_id')::bigint, item->>'actor_username', item->>'reason',
            item->'changes', (item->>'ticket_id')::bigint, item->>'content_hash',
            head_hash, record_hash
        ) RETURNING id INTO record_id;
        RETURN NEXT;
        head_hash := record_hash;
    END LOOP;
    UPDATE audit_audithead SET seq = head_seq, hash = head_hash WHERE id = 1;
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS changemgmt_audit_append(jsonb);"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_idempotent_reply")]

    operations = [migrations.RunPython(create, drop)]
