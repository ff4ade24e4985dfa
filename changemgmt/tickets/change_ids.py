"""Change IDs: `CHG-<year>-NNNNN`, sequential per year and never reused (a row-locked counter),
and the `change_id` path converter the web and API routes name a ticket with."""

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


class ChangeIdConverter:
    """`<change_id:change_id>`: only a change ID routes (`CHG-2026-04891`; the number grows past
    five digits in a busy year), anything else is a 404 before a view runs. The value stays the
    change ID: views look the ticket up by it."""

    regex = r"CHG-[0-9]{4}-[0-9]{5,11}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)
