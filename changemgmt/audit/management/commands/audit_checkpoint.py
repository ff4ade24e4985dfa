"""Sign the audit chain's head and append it to the checkpoint sink (AUDIT_CHECKPOINT_FILE, and
AUDIT_CHECKPOINT_WEBHOOK when set). Celery beat runs the same every AUDIT_CHECKPOINT_INTERVAL."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from changemgmt.audit import checkpoints


class Command(BaseCommand):
    help = "Append a signed checkpoint of the audit chain's head to the checkpoint sink."

    def add_arguments(self, parser):
        parser.add_argument(
            "--create-key",
            action="store_true",
            help="create the AUDIT_CHECKPOINT_KEY file if it is missing, then stop",
        )

    def handle(self, *args, create_key=False, **options):
        if create_key:
            configured = (settings.AUDIT_CHECKPOINT_KEY or "").strip()
            if not configured or configured.startswith("-----BEGIN"):
                raise CommandError("AUDIT_CHECKPOINT_KEY is not a file path")
            made = checkpoints.create_key_file(Path(configured))
            self.stdout.write(f"{'Created' if made else 'Kept'} checkpoint key {configured}")
            return
        try:
            checkpoint = checkpoints.checkpoint_now()
        except (checkpoints.CheckpointError, OSError) as exc:
            raise CommandError(f"No checkpoint made: {exc}") from None
        self.stdout.write(
            f"Checkpoint #{checkpoint.seq} {checkpoint.head} at {checkpoint.time} "
            f"appended to {checkpoints.sink_path()}"
        )
