"""`manage.py advance_rollouts [--now ISO-8601]` runs the sweeper as of an instant."""

import io

import pytest
from django.core.management import CommandError, call_command

from tests.rollouts.conftest import feed, ny, stage_percent


def run(*args):
    out = io.StringIO()
    call_command("advance_rollouts", *args, stdout=out)
    return out.getvalue()


def test_it_promotes_as_of_the_given_instant(ramping_ticket):
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    assert "0 ramp(s) changed" in run("--now", "2027-02-10T10:29:00-05:00")
    output = run("--now", "2027-02-10T15:30:00Z")
    assert f"{ramping_ticket.change_id}: promoted to 10%" in output
    assert stage_percent(ramping_ticket) == 10
    stage = ramping_ticket.ramp_stages.get(index=1)
    assert stage.entered_at == ny(2027, 2, 10, 10, 30)


@pytest.mark.parametrize("bad", ["tomorrow", "2027-02-30T10:00:00Z", "2027-02-10T10:00:00"])
def test_it_refuses_a_bad_instant_clearly(bad, db):
    with pytest.raises(CommandError, match="--now"):
        run("--now", bad)
