"""Signal receivers and database triggers of the audit app, wired from AuditConfig.ready()."""

import pgtrigger
from django.dispatch import receiver
from simple_history.signals import post_create_historical_record

from .append import append_record
from .chain import history_models, m2m_history_models

# One trigger object shared by every history table: the rows are append-only in PostgreSQL
# itself, so even a script with the app's database credentials cannot rewrite the record.
APPEND_ONLY = pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)


def protect_history_tables():
    from .models import AuditRecord

    for model in [*history_models(), *m2m_history_models(), AuditRecord]:
        pgtrigger.register(APPEND_ONLY)(model)


@receiver(post_create_historical_record, dispatch_uid="audit_chain_append")
def record_history_row(sender, history_instance, instance=None, **kwargs):
    append_record(history_instance, instance)
