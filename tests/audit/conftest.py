import contextlib

import pgtrigger
import pytest
from django.db import connection

from changemgmt.audit.chain import history_models, m2m_history_models
from changemgmt.audit.models import AuditRecord
from tests.factories import TicketFactory


def all_trigger_uris():
    models = [*history_models(), *m2m_history_models(), AuditRecord]
    return [f"{m._meta.label}:append_only" for m in models]


@contextlib.contextmanager
def as_table_owner():
    """Raw SQL with the rights of the table owner: on PostgreSQL the append-only triggers are
    bypassed (as an attacker with owner rights could), so what remains is verify_audit's proof."""
    if connection.vendor == "postgresql":
        with pgtrigger.ignore(*all_trigger_uris()):
            yield connection.cursor()
    else:
        yield connection.cursor()


@pytest.fixture
def audited_ticket(db, author):
    return TicketFactory(author=author)
