"""The OpenAPI document at /api/schema/ and the Swagger page at /api/docs/."""

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(author):
    client = APIClient()
    client.force_authenticate(author)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_it_serves_a_valid_openapi_3_document(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_it_documents_every_changes_operation_with_its_errors(schema):
    paths = schema["paths"]
    changes = paths["/api/v1/changes/"]
    assert set(changes["post"]["responses"]) >= {"201", "400", "403"}
    assert changes["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    detail = paths["/api/v1/changes/{change_id}/"]
    assert set(detail) >= {"get", "patch"} and "put" not in detail
    assert set(detail["patch"]["responses"]) >= {"200", "400", "403", "409"}
    for name in [
        "submit", "withdraw", "request-changes", "reject", "emergency-approve", "schedule",
        "start", "promote", "halt", "resume", "roll-back", "close", "cancel",
    ]:  # fmt: skip
        operation = paths[f"/api/v1/changes/{{change_id}}/{name}/"]["post"]
        assert set(operation["responses"]) >= {"200", "400", "403", "409"}, name
    votes = paths["/api/v1/changes/{change_id}/votes/"]["post"]
    assert set(votes["responses"]) >= {"201", "400", "403", "409"}
    assert "/api/v1/auth/token/" in paths
    for catalog in ["features", "models", "tenants", "cohorts"]:
        assert "get" in paths[f"/api/v1/{catalog}/"]


def test_it_describes_the_request_bodies(schema):
    components = schema["components"]["schemas"]
    schedule = components["ScheduleRequest"]
    assert schedule["required"] == ["planned_start"]
    close = components["CloseRequest"]["properties"]
    assert set(close) >= {"notes", "metrics_held", "reason"}
    change = components["ChangeRequest"]
    assert set(change["required"]) == {"title", "summary", "feature", "classification"}
    assert change["properties"]["title"]["maxLength"] == 200
    refusal = components["Refusal"]["properties"]
    assert set(refusal) == {"detail", "transition", "guard", "reasons"}


def test_it_renders_the_swagger_page_from_local_assets(author):
    client = APIClient()
    client.force_login(author)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "/static/" in html
    assert "cdn." not in html and "unpkg" not in html


def test_it_refuses_the_schema_and_docs_to_a_gateway_account(gateway):
    client = APIClient()
    client.force_authenticate(gateway)
    for path in ("/api/schema/", "/api/docs/"):
        response = client.get(path)
        assert response.status_code == 403, path
    refused = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert "a gateway reads its policy" in refused.content.decode()


def test_it_documents_the_gateway_documents_and_how_to_verify_them(schema):
    """Issue 12.4: /api/schema/ omitted the gateway policy, its YAML and the public key."""
    paths = schema["paths"]
    for path in [
        "/api/v1/gateway-policy", "/gateway-policies/kill-switches.yaml", "/gateway-policies/public-key",
    ]:  # fmt: skip
        assert set(paths[path]["get"]["responses"]) >= {"200", "401", "403"}, path
    json_doc = paths["/api/v1/gateway-policy"]["get"]
    assert set(json_doc["responses"]["200"]["headers"]) >= {
        "ETag", "X-Policy-Version", "X-Policy-Signature", "X-Policy-Key-Id",
    }  # fmt: skip
    assert "304" in json_doc["responses"]
    assert json_doc["parameters"][0]["name"] == "If-None-Match"
    for words in ["exact response body", "Ed25519", "base64", "SubjectPublicKeyInfo",
                  "# policy-version: N", "SHA-256 of the raw 32-byte public key"]:  # fmt: skip
        assert words in json_doc["description"], words
