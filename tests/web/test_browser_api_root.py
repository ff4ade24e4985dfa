"""Issue 16.1: `/api/v1/` is the API's table of contents, not a 404."""

import pytest

from tests.web.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_lists_the_endpoints_and_links_the_docs(page, live_server, release_manager):
    log_in(page, live_server.url, "release_manager")
    page.goto(f"{live_server.url}/api/v1/")
    body = page.locator("body").inner_text()
    assert "Api Root" in body or "changes" in body
    for name in ("changes", "kill-switch-flip", "gateway-policy", "audit", "features"):
        assert f'"{name}"' in body
    # The docs link is a link a person can follow (the browsable API renders URLs as links).
    page.locator(f'a[href="{live_server.url}/api/docs/"]').first.click()
    page.wait_for_url(f"{live_server.url}/api/docs/")
    assert page.title() != ""


def test_it_answers_json_with_links_to_every_endpoint(client, release_manager):
    client.force_login(release_manager)
    data = client.get("/api/v1/", HTTP_ACCEPT="application/json").json()
    assert data["docs"].endswith("/api/docs/")
    assert data["schema"].endswith("/api/schema/")
    assert data["endpoints"]["changes"]["url"].endswith("/api/v1/changes/")
    assert data["endpoints"]["change"]["url"] == "/api/v1/changes/{change_id}/"
    for entry in data["endpoints"].values():
        if "{" not in entry["url"]:
            assert client.get(entry["url"]).status_code != 404, entry


def test_it_refuses_an_anonymous_caller_without_a_redirect(client):
    assert client.get("/api/v1/", HTTP_ACCEPT="application/json").status_code in (401, 403)
