"""Change IDs: `CHG-<year>-NNNNN`, sequential per year and never reused (a row-locked counter)."""

from django.db import models, transaction


class ChangeIdCounter(models.Model):
    """Last change number handed out per year: IDs are sequential and never reused."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last}"


def next_change_id(year: int) -> str:
    """Claim the next `CHG-<year>-NNNNN` inside the caller's transaction (row-locked)."""
    with transaction.atomic():
        ChangeIdCounter.objects.get_or_create(year=year)
        counter = ChangeIdCounter.objects.select_for_update().get(year=year)
        counter.last += 1
        counter.save(update_fields=["last"])
    return f"CHG-{year}-{counter.last:05d}"
