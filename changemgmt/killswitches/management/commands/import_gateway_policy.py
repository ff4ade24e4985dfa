from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from changemgmt.audit.recording import system_user
from changemgmt.killswitches.importer import PolicyFileError, import_policy


class Command(BaseCommand):
    help = "Load a gateway-policies/kill-switches.yaml into the kill switches (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="Print the diff; change nothing."
        )
        parser.add_argument("--user", help="Username recorded as the actor (default: system).")

    def handle(self, *args, file, dry_run=False, user=None, **options):
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file}: cannot read: {exc}") from exc
        actor = system_user()
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"Unknown user '{user}'.")
        try:
            changes = import_policy(
                text, acting_user=actor, source=Path(file).name, dry_run=dry_run
            )
        except PolicyFileError as exc:
            raise CommandError(f"{file}: {exc}; nothing changed.") from exc
        for change in changes:
            self.stdout.write(change.describe())
        if not changes:
            self.stdout.write("No changes.")
        elif dry_run:
            self.stdout.write(f"Dry run: {len(changes)} change(s), nothing applied.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Applied {len(changes)} change(s)."))
