"""Issue 16.1: `PORT=8123 make run` and `HOST=…` reach the web process's bind address."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def web_command() -> str:
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    return line.split(":", 1)[1]


def bind_address(env: dict) -> str:
    """What the web line's --bind expands to in the shell honcho runs it with."""
    script = "set -- " + web_command() + '; while [ "$1" != --bind ]; do shift; done; echo "$2"'
    return subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_it_binds_where_port_and_host_say():
    assert bind_address({"PORT": "8123", "HOST": "0.0.0.0"}) == "0.0.0.0:8123"


def test_it_defaults_to_localhost_8000():
    assert bind_address({}) == "127.0.0.1:8000"


def test_make_run_hands_port_to_honcho():
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "honcho start -f Procfile --port 8123" in dry  # honcho gives web (line 1) PORT
    assert "http://127.0.0.1:8123" in dry


def test_the_reference_gateway_polls_the_port_make_run_serves():
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "CHANGEMGMT_URL=http://127.0.0.1:8123" in dry
    gateway = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("gateway:")
    )
    assert "--server ${CHANGEMGMT_URL:-http://127.0.0.1:8000}" in gateway
