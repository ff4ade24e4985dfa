"""The WSGI entry point as gunicorn imports it: in a fresh interpreter (importing it here would
freeze the test process's own heap)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, json
before = gc.get_freeze_count()
import changemgmt.wsgi as wsgi
print(json.dumps({
    "before": before,
    "frozen": gc.get_freeze_count(),
    "app": type(wsgi.application).__name__,
}))
"""


def test_importing_the_wsgi_module_freezes_the_heap_it_built():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    assert found["before"] == 0
    assert found["app"] == "GatewayPolls"
    # Django, DRF and the app's modules: tens of thousands of long-lived objects.
    assert found["frozen"] > 50_000, found
