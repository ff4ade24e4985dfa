"""Helpers for the page-flow tests of the pages people live in (issue 16)."""

from pathlib import Path

PASSWORD = "pw-for-tests-0"  # tests.factories.UserFactory's
SCREENSHOTS = Path("/work/screenshots")


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def screenshot(page, name: str) -> None:
    """Keep a picture of what the test saw (people look at these; the test asserts the text)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
