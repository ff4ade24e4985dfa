"""Walk the audit chain and prove no record, history row or audited live row was edited, deleted
or inserted outside the app, and that the chain still matches every signed checkpoint.

Exit status 1 names the first break; 0 prints the count and, as the last line, the head (publish
it, or let `audit_checkpoint` sign it)."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from changemgmt.audit import checkpoints
from changemgmt.audit.verification import Broken, verify


class Command(BaseCommand):
    help = "Verify the audit chain against the history tables, the live rows and the checkpoints."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000)
        parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
        parser.add_argument(
            "--no-checkpoints", action="store_true", help="skip the signed checkpoints"
        )
        parser.add_argument(
            "--no-live", action="store_true", help="skip comparing live rows with their history"
        )

    def handle(self, *args, chunk_size=2000, verbosity=1, **options):
        as_json = options["json"]

        def progress(done, total):
            if verbosity >= 1 and total > chunk_size and not as_json:
                self.stderr.write(f"  checked {done:,} of {total:,} records…")

        try:
            signed = [] if options["no_checkpoints"] else checkpoints.read_checkpoints()
            result = verify(
                chunk_size=chunk_size,
                progress=progress,
                checkpoints=signed,
                live=not options["no_live"],
            )
        except (Broken, checkpoints.CheckpointError) as broken:
            if as_json:
                self.stdout.write(json.dumps({"intact": False, "broken": str(broken)}))
            raise CommandError(f"Audit chain BROKEN at {broken}") from None
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "intact": True,
                        "records": result.records,
                        "checkpoints": result.checkpoints,
                        "live_rows": result.live_rows,
                        "head": {"seq": result.head_seq, "hash": result.head_hash},
                    }
                )
            )
            return
        self.stdout.write(
            self.style.SUCCESS(f"Audit chain intact: {result.records:,} records verified.")
        )
        self.stdout.write(
            f"Checked against {result.checkpoints:,} signed checkpoint(s) and "
            f"{result.live_rows:,} live row(s)."
        )
        self.stdout.write(f"Head: #{result.head_seq} {result.head_hash}")
        sys.stdout.flush()
