"""The app, for the PostgreSQL-restart drill, with one pause injected between the two parts of a
ticket filing: after the ticket row is written and before its eval rows are.

When DRILL_HOOK_DIR is set, filing a ticket writes `reached` there and waits (up to 60 s) for
`release` to appear, so the test can stop PostgreSQL while the transaction is open.
"""

import os
import time
from pathlib import Path

from changemgmt.wsgi import application  # noqa: F401  (gunicorn's entry point; sets Django up)


def _install():
    from changemgmt.tickets import filing
    from changemgmt.tickets.models import EvalDelta

    save_audited = filing.save_audited

    def paused_save_audited(obj, **kwargs):
        hook = os.environ.get("DRILL_HOOK_DIR")
        if hook and isinstance(obj, EvalDelta) and obj.pk is None:
            Path(hook, "reached").touch()
            deadline = time.monotonic() + 60
            while not Path(hook, "release").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return save_audited(obj, **kwargs)

    filing.save_audited = paused_save_audited


_install()
