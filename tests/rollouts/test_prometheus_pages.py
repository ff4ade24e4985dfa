"""The CAB review and the ramp page show each guard's source and the PromQL it sends."""

import html

import pytest
import time_machine

from changemgmt.rollouts.models import FeatureGuardTemplate
from tests.factories import FeatureFactory, TicketFactory

from .conftest import WEDNESDAY_10

QUERY = 'max(canary_health{feature="{feature}",change_id="{change_id}",stage="{stage}"})'


@pytest.fixture
def prometheus_feature(settings, db):
    settings.PROMETHEUS_URL = "http://127.0.0.1:9"
    feature = FeatureFactory(slug="support-assistant", risk_tier="medium")
    FeatureGuardTemplate.objects.create(feature=feature, metric="error_rate", query=QUERY)
    return feature


def test_the_cab_review_shows_the_prometheus_query_it_approves(
    client, prometheus_feature, author, cab_platform
):
    ticket = TicketFactory(author=author, feature=prometheus_feature, state="submitted")
    client.force_login(cab_platform)
    page = html.unescape(client.get(f"/tickets/{ticket.change_id}/review/").content.decode())
    expected = (
        f'max(canary_health{{feature="support-assistant",change_id="{ticket.change_id}",'
        'stage="1"})'
    )
    assert expected in page
    assert 'data-source="prometheus"' in page and 'data-source="push"' in page


def test_the_ramp_page_shows_the_query_for_the_current_stage(
    client, prometheus_feature, author, release_manager, auditor, window_policy
):
    from .conftest import start

    ticket = TicketFactory(
        author=author,
        release_manager=release_manager,
        feature=prometheus_feature,
        users_affected=4_000_000,
        regions=["AU", "CA", "EU", "US"],
        max_traffic_percent=50,
        state="scheduled",
        planned_start=WEDNESDAY_10,
    )
    start(ticket, release_manager)
    with time_machine.travel(WEDNESDAY_10, tick=False):
        client.force_login(auditor)  # inside the moved clock: a session from "now" is expired
        page = html.unescape(client.get(f"/tickets/{ticket.change_id}/").content.decode())
    assert f'change_id="{ticket.change_id}",stage="1"' in page
    assert "Prometheus" in page
