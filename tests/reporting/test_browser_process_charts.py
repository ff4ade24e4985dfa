"""Issue 16.2: the dashboard's process-number charts say "no data yet" when there is nothing to
plot, and a week without a value breaks the line instead of being bridged."""

from datetime import timedelta

import pytest
from django.utils import timezone

from changemgmt.audit.recording import save_audited
from tests.factories import TicketFactory
from tests.web.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def started_ticket(author, **timestamps):
    ticket = TicketFactory(author=author)
    for name, value in timestamps.items():
        setattr(ticket, name, value)
    save_audited(ticket, acting_user=author, reason="timestamps")
    return ticket


def test_every_empty_chart_says_no_data_yet(live_server, page, release_manager):
    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server.url, "release_manager")
    empties = page.locator("#process-numbers .process-chart-empty")
    assert empties.count() == 5
    texts = empties.all_inner_texts()
    assert all("No data yet" in text for text in texts)
    assert any("no ramp started in the last 90 days" in text for text in texts)
    assert all(empty.is_visible() for empty in empties.all())
    assert page.locator("#process-numbers canvas").count() == 0


def test_a_week_without_data_breaks_the_line(live_server, page, author, release_manager):
    now = timezone.now()
    started_ticket(author, started_at=now - timedelta(days=36))
    started_ticket(author, started_at=now - timedelta(days=36), rolled_back_at=now)
    started_ticket(author, started_at=now - timedelta(days=8))

    page.set_viewport_size({"width": 1400, "height": 900})
    log_in(page, live_server.url, "release_manager")
    page.locator("canvas#chart-failure-rate").wait_for()
    page.wait_for_function("window.Chart && Chart.getChart('chart-failure-rate')")
    line = page.evaluate(
        """() => {
        const chart = Chart.getChart('chart-failure-rate');
        const meta = chart.getDatasetMeta(0);
        return {spanGaps: chart.data.datasets[0].spanGaps, values: chart.data.datasets[0].data,
                skipped: meta.data.map(p => p.skip)};
    }"""
    )
    assert line["spanGaps"] is False
    plotted = [i for i, v in enumerate(line["values"]) if v is not None]
    assert [line["values"][i] for i in plotted] == [50.0, 0.0]
    between = range(plotted[0] + 1, plotted[1])
    assert len(between) >= 3 and all(line["skipped"][i] for i in between)
    # The charts with nothing yet still say so beside the one that has data.
    empty = page.locator('.process-chart-empty[data-chart="chart-lead-time"]')
    assert "No data yet: no change deployed in the last 90 days." in empty.inner_text()
