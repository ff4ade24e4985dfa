"""The ramp controls on the ticket page check their reason as the API does: refused, not cut."""

import pytest

from tests.rollouts.conftest import stage_percent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "reason, message",
    [
        ("x" * 1_000_000, "Ensure this value has at most 5000 characters"),
        ("a\x00b", "Null characters are not allowed."),
    ],
)
def test_it_refuses_a_halt_reason_it_cannot_keep_whole(
    client, ramping_ticket, release_manager, reason, message
):
    client.force_login(release_manager)
    response = client.post(
        f"/ramps/{ramping_ticket.change_id}/control/halt/", {"reason": reason}, follow=True
    )
    assert message in response.content.decode()
    ramping_ticket.refresh_from_db()
    assert ramping_ticket.state == "ramping"
    assert stage_percent(ramping_ticket) == 1
