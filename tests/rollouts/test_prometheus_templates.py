"""A Prometheus guard's PromQL template: refused with the reason when a value could leave its
label matcher or Prometheus is not configured; values escaped when filled in."""

import pytest

from changemgmt.catalog.models import AIFeature
from changemgmt.rollouts import promql
from changemgmt.rollouts.forms import GuardForm
from changemgmt.rollouts.models import FeatureGuardTemplate, GuardPolicy
from tests.factories import FeatureFactory

GOOD = 'sum(rate(errors_total{feature="{feature}",change_id="{change_id}"}[5m])) > {percent}'


def test_it_escapes_quotes_backslashes_and_newlines_for_a_promql_string():
    assert promql.escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_it_fills_in_every_placeholder_and_leaves_promql_braces_alone():
    values = {
        "change_id": "CHG-2027-00001",
        "feature": 'x"} or vector(1) or up{a="',
        "candidate": "gpt",
        "stage": "2",
        "percent": "10",
    }
    text = promql.render(GOOD + ' and on() cand{model="{candidate}"} > {stage}', values)
    assert text == (
        'sum(rate(errors_total{feature="x\\"} or vector(1) or up{a=\\"",'
        'change_id="CHG-2027-00001"}[5m])) > 10 and on() cand{model="gpt"} > 2'
    )


def test_it_accepts_a_template_with_text_placeholders_inside_quotes():
    assert promql.template_problems(GOOD) == []


@pytest.mark.parametrize(
    "template, reason",
    [
        ("", "needs a PromQL query"),
        ("errors_total{feature={feature}}", "{feature} must be inside a quoted label value"),
        ('errors_total{feature="{feature}}', "unterminated string"),
        ("x" * 2001, "longer than 2000"),
    ],
)
def test_it_refuses_a_template_that_could_be_escaped(template, reason):
    problems = promql.template_problems(template)
    assert any(reason in p for p in problems), problems


def guard_form(**data):
    return GuardForm(data={"metric": "error_rate", "threshold": "0.02", **data})


def test_it_offers_only_push_guards_without_prometheus_url(settings):
    settings.PROMETHEUS_URL = ""
    form = guard_form(source="prometheus", query=GOOD)
    assert not form.is_valid()
    assert "source" in form.errors


def test_it_refuses_an_unsafe_query_on_the_plan_form(settings):
    settings.PROMETHEUS_URL = "http://127.0.0.1:9"
    form = guard_form(source="prometheus", query="errors{feature={feature}}")
    assert not form.is_valid()
    assert "{feature} must be inside a quoted label value" in form.errors["query"][0]
    assert guard_form(source="prometheus", query=GOOD).is_valid()


@pytest.mark.django_db
def test_it_refuses_a_feature_template_in_the_admin_with_the_reason(admin_client, settings):
    settings.PROMETHEUS_URL = "http://127.0.0.1:9"
    feature = FeatureFactory(slug="support-assistant")
    response = admin_client.post(
        "/admin/rollouts/featureguardtemplate/add/",
        {"feature": feature.pk, "metric": "error_rate", "query": "errors{feature={feature}}"},
    )
    assert response.status_code == 200
    assert "must be inside a quoted label value" in response.content.decode()
    assert not FeatureGuardTemplate.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_prometheus_tier_default_without_prometheus_url(admin_client, settings):
    settings.PROMETHEUS_URL = ""
    response = admin_client.post(
        "/admin/rollouts/guardpolicy/add/",
        {
            "tier": "medium",
            "metric": "error_rate",
            "threshold": "0.02",
            "source": "prometheus",
            "query": GOOD,
        },
    )
    assert response.status_code == 200
    assert "PROMETHEUS_URL is not set" in response.content.decode()
    assert not GuardPolicy.objects.exists()


@pytest.mark.django_db
def test_it_makes_push_guards_from_prometheus_policy_while_prometheus_url_is_unset(
    settings, author
):
    from tests.factories import TicketFactory

    settings.PROMETHEUS_URL = ""
    feature = FeatureFactory(slug="support-assistant", risk_tier="medium")
    FeatureGuardTemplate.objects.create(feature=feature, metric="error_rate", query=GOOD)
    ticket = TicketFactory(author=author, feature=feature)
    assert {g.source for g in ticket.guards.all()} == {"push"}
    assert AIFeature.objects.count() == 1
