"""The gateway policy JSON lists every active ramp; a halted one holds its traffic, a rolled-back
one disappears at once, and every time-based promotion bumps the version (no stale 304)."""

import time_machine

from tests.rollouts.conftest import feed, ny, tick

URL = "/api/v1/gateway-policy"


def read(client, at):
    with time_machine.travel(at, tick=False):
        response = client.get(URL)
    assert response.status_code == 200, response.content
    return response.json()


def ramps_of(document):
    return document.get("ramps", [])


def test_it_publishes_the_active_ramp_and_bumps_on_each_promotion(client, gateway, ramping_ticket):
    at = ny(2027, 2, 10, 10, 15)
    with time_machine.travel(at, tick=False):
        client.force_login(gateway)  # on the moved clock: sessions expire
    first = read(client, at)
    [ramp] = ramps_of(first)
    assert ramp["change_id"] == ramping_ticket.change_id
    assert ramp["feature"] == ramping_ticket.feature.slug
    assert ramp["traffic_percent"] == 1 and ramp["state"] == "ramping"
    assert ramp["candidate"]["prompt_version"] == "support-assistant@42"
    assert ramp["audience"] == {"tenant_segments": [], "regions": [], "cohorts": []}

    feed(ramping_ticket, ny(2027, 2, 10, 10, 10))
    tick(ny(2027, 2, 10, 10, 30))
    second = read(client, ny(2027, 2, 10, 10, 31))
    assert second["version"] > first["version"]
    assert ramps_of(second)[0]["traffic_percent"] == 10


def test_it_holds_a_halted_ramp_and_drops_a_rolled_back_one(client, gateway, ramping_ticket):
    with time_machine.travel(ny(2027, 2, 10, 10, 11), tick=False):
        client.force_login(gateway)
    feed(ramping_ticket, ny(2027, 2, 10, 10, 10), n=1, error_rate=0.03)
    tick(ny(2027, 2, 10, 10, 11))
    [held] = ramps_of(read(client, ny(2027, 2, 10, 10, 12)))
    assert (held["state"], held["traffic_percent"]) == ("halted", 1)
    feed(ramping_ticket, ny(2027, 2, 10, 10, 13), n=1, error_rate=0.5)
    tick(ny(2027, 2, 10, 10, 14))
    assert ramps_of(read(client, ny(2027, 2, 10, 10, 15))) == []


def test_it_builds_the_ramps_section_in_a_fixed_number_of_queries(ramping_ticket):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from changemgmt.rollouts.gateway import active_ramps

    with CaptureQueriesContext(connection) as queries:
        [ramp] = active_ramps()
    assert ramp["traffic_percent"] == 1 and ramp["stages"] == 4
    assert len(queries) == 2
