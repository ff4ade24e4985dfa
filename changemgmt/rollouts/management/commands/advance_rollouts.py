from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from changemgmt import clock
from changemgmt.rollouts.sweeper import advance_all


class Command(BaseCommand):
    help = (
        "Advance every ramping ticket once (what Celery beat runs every minute): promote, hold, "
        "halt or roll back."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now",
            help="Evaluate as of this instant, ISO-8601 with an offset "
            "(e.g. 2027-02-10T10:30:00-05:00), for drills and replays.",
        )

    def handle(self, *args, now=None, **options):
        instant = clock.now()
        if now:
            try:
                instant = datetime.fromisoformat(now)
            except ValueError as exc:
                raise CommandError(
                    f"--now {now!r} is not an ISO-8601 instant (e.g. 2027-02-10T10:30:00-05:00)."
                ) from exc
            if timezone.is_naive(instant):
                raise CommandError(f"--now {now!r} needs a UTC offset (e.g. -05:00 or Z).")
        with clock.frozen_at(instant):
            done = advance_all(instant)
        for change_id, outcome in done:
            self.stdout.write(f"{change_id}: {outcome}")
        self.stdout.write(f"{len(done)} ramp(s) changed as of {instant.isoformat()}.")
