"""Read-only catalog lists: /api/v1/features/, models/, tenants/, cohorts/ (filterable)."""

import pytest

from tests.factories import CohortFactory, FeatureFactory, ModelFactory, TenantFactory
from tests.tickets.api_payloads import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    FeatureFactory(slug="policy-search-v1", risk_tier="low", customer_facing=True)
    FeatureFactory(slug="underwriting-decision-v2", risk_tier="high")
    ModelFactory(model_id="openai.gpt-4o-2024-11", provider="openai")
    ModelFactory(model_id="bedrock.anthropic.claude-haiku-4-5", provider="bedrock")
    TenantFactory(tenant_id="enterprise-tenant-12891", segment="enterprise", region="US")
    TenantFactory(tenant_id="design-partner-acme", segment="design_partner", region="CA")
    CohortFactory(slug="internal")
    CohortFactory(slug="opted_in")


def keys(response, key):
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


def test_it_lists_and_filters_the_catalog(author, catalog):
    client = client_for(author)
    assert keys(client.get("/api/v1/features/"), "slug") == [
        "policy-search-v1",
        "underwriting-decision-v2",
    ]
    assert keys(client.get("/api/v1/features/?risk_tier=high"), "slug") == [
        "underwriting-decision-v2"
    ]
    assert keys(client.get("/api/v1/features/?customer_facing=true"), "slug") == [
        "policy-search-v1"
    ]
    assert keys(client.get("/api/v1/models/?provider=bedrock"), "model_id") == [
        "bedrock.anthropic.claude-haiku-4-5"
    ]
    assert keys(client.get("/api/v1/tenants/?segment=design_partner"), "tenant_id") == [
        "design-partner-acme"
    ]
    assert keys(client.get("/api/v1/cohorts/"), "slug") == ["internal", "opted_in"]
    feature = client.get("/api/v1/features/policy-search-v1/").json()
    assert feature["risk_tier"] == "low" and feature["fallback"] == "keyword-search-v3"
    assert client.get("/api/v1/models/openai.gpt-4o-2024-11/").status_code == 200
    assert client.get("/api/v1/features/?risk_tier=extreme").status_code == 400


def test_it_is_read_only(author, catalog):
    client = client_for(author)
    assert client.post("/api/v1/features/", {"slug": "x"}, format="json").status_code == 405
    assert client.delete("/api/v1/cohorts/internal/").status_code == 405


def test_it_answers_403_to_a_gateway_and_401_to_nobody(gateway, catalog):
    from rest_framework.test import APIClient

    assert client_for(gateway).get("/api/v1/features/").status_code == 403
    assert APIClient().get("/api/v1/features/").status_code == 401
