"""Emergency approval moves from a search of the ticket's history reasons into a field.

The data step fills the field for tickets approved before it existed: the time of their history
row saved by `emergency_approve` (its reason starts "emergency_approve"). It writes the ticket
table only (a queryset update: no history row, so the audit chain is untouched).
"""

from django.db import migrations, models
from django.db.models import Min


def fill_from_history(apps, schema_editor):
    ChangeTicket = apps.get_model("tickets", "ChangeTicket")
    History = apps.get_model("tickets", "HistoricalChangeTicket")
    approved = (
        History.objects.filter(history_change_reason__startswith="emergency_approve")
        .values("id")
        .annotate(at=Min("history_date"))
    )
    for row in approved.iterator():
        ChangeTicket.objects.filter(pk=row["id"], emergency_approved_at=None).update(
            emergency_approved_at=row["at"]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0002_ticket_list_and_metrics_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="changeticket",
            name="emergency_approved_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill_from_history, migrations.RunPython.noop),
    ]
