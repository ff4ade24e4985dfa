"""The console pages share one access check (roles.require_human_reader): a machine account or an
account with no role gets 403 with the reason on the page; any human role may read."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from changemgmt import roles

pytestmark = pytest.mark.django_db

PAGES = [
    ("tickets:list", "change tickets"),
    ("tickets:cab-agenda", "change tickets"),
    ("rollouts:dashboard-panel", "change tickets"),
    ("killswitches:console", "the kill-switch console"),
    ("windows:calendar", "the change calendar"),
]


@pytest.mark.parametrize(("page", "what"), PAGES)
def test_it_refuses_an_account_with_no_role_saying_what(client, outsider, page, what):
    client.force_login(outsider)
    response = client.get(reverse(page))
    assert response.status_code == 403
    assert f"Your account has no role that may read {what}." in response.content.decode()


def test_the_check_refuses_a_machine_account_too(gateway):
    # The login middleware turns a gateway account away from every console page first; the
    # check itself does not rely on that.
    with pytest.raises(PermissionDenied, match="no role that may read change tickets"):
        roles.require_human_reader(gateway, "change tickets")


@pytest.mark.parametrize(("page", "what"), PAGES)
def test_it_lets_a_human_role_read(client, auditor, page, what):
    client.force_login(auditor)
    assert client.get(reverse(page)).status_code == 200
