"""The gateway documents in the OpenAPI schema (/api/schema/).

They are plain Django views (the hot path, see gateway_views.py), which drf-spectacular does not
see: this postprocessing hook adds them, with what a gateway author needs to verify them.
"""

VERIFY = (
    "**Verifying.** The signed bytes are the exact response body, byte for byte (UTF-8, no "
    "trailing newline in the JSON). `X-Policy-Signature` is the Ed25519 signature of those bytes, "
    "base64 (standard alphabet, padded). Verify before parsing, against the public key pinned in "
    "the gateway's configuration (`GET /gateway-policies/public-key`: PEM SubjectPublicKeyInfo). "
    "The version is inside the signed bytes (`version` in the JSON; the comment line "
    "`# policy-version: N` after the header in the YAML): refuse a version lower than the one "
    "applied, so an old signed copy cannot be replayed. `X-Policy-Key-Id` names the key: the "
    "first 16 hex digits of the SHA-256 of the raw 32-byte public key. Full client rules, test "
    "vectors and the JSON Schema of the document: `clients/spec/` in the repository."
)

_HEADERS = {
    "ETag": {
        "description": '`"policy-v<version>-<json|yaml>"`; send it back in If-None-Match.',
        "schema": {"type": "string"},
    },
    "X-Policy-Version": {
        "description": "The policy version (also inside the signed body).",
        "schema": {"type": "integer"},
    },
    "X-Policy-Signature": {
        "description": "Ed25519 signature of the exact body bytes, base64.",
        "schema": {"type": "string"},
    },
    "X-Policy-Key-Id": {
        "description": "sha256(raw public key)[:16 hex]: which key signed the body.",
        "schema": {"type": "string"},
    },
}

_AUTH_ERRORS = {
    "304": {
        "description": "If-None-Match matched: the version you hold is current.",
        "headers": {k: _HEADERS[k] for k in ("ETag", "X-Policy-Version")},
    },
    "401": {"description": "No or unknown token."},
    "403": {"description": "The account's role may not read the gateway policy."},
}

_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of the document you hold: 304 when it is still current.",
    "schema": {"type": "string"},
}

POLICY_DOCUMENT = {
    "type": "object",
    "description": "The JSON Schema of record is clients/spec/policy.schema.json.",
    "required": ["version", "feature_kill_switches", "model_kill_switches", "tenant_kill_switches"],
    "properties": {
        "version": {"type": "integer", "minimum": 0},
        "feature_kill_switches": {"type": "object", "additionalProperties": {"type": "object"}},
        "model_kill_switches": {"type": "array", "items": {"type": "object"}},
        "tenant_kill_switches": {"type": "object", "additionalProperties": {"type": "object"}},
        "ramps": {"type": "array", "items": {"type": "object"}},
        "live": {"type": "object", "additionalProperties": {"type": "object"}},
        "canary_exercises": {"type": "array", "items": {"type": "object"}},
    },
}


def _document(summary: str, description: str, media: dict, operation_id: str) -> dict:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "description": f"{description}\n\n{VERIFY}",
            "tags": ["gateway-policy"],
            "parameters": [_IF_NONE_MATCH],
            "security": [{"tokenAuth": []}, {"cookieAuth": []}],
            "responses": {
                "200": {
                    "description": "The signed document.",
                    "headers": _HEADERS,
                    "content": media,
                },
                **_AUTH_ERRORS,
            },
        }
    }


def add_gateway_documents(result, generator, request, public):
    paths = result.setdefault("paths", {})
    paths["/api/v1/gateway-policy"] = _document(
        "The gateway policy as JSON",
        "The three kill-switch layers, every active ramp (feature, change, stage %, audience), "
        "what is live per feature, and open game-day canary exercises.",
        {"application/json": {"schema": POLICY_DOCUMENT}},
        "gateway_policy_json",
    )
    paths["/gateway-policies/kill-switches.yaml"] = _document(
        "The kill switches as the article's YAML",
        "`gateway-policies/kill-switches.yaml` in the article's shape, with the version comment "
        "line after the header.",
        # No schema: the body is YAML text, described above; the JSON twin has the schema.
        {"application/yaml": {}},
        "gateway_policy_yaml",
    )
    paths["/gateway-policies/public-key"] = {
        "get": {
            "operationId": "gateway_policy_public_key",
            "summary": "The Ed25519 public key that signs the gateway policy",
            "description": "PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`). Fetch it "
            "once, out of band, and pin it in the gateway's configuration; do not trust a key "
            "fetched at every boot.",
            "tags": ["gateway-policy"],
            "security": [{"tokenAuth": []}, {"cookieAuth": []}],
            "responses": {
                "200": {
                    "description": "The public key.",
                    "headers": {"X-Policy-Key-Id": _HEADERS["X-Policy-Key-Id"]},
                    "content": {"application/x-pem-file": {}},
                },
                "401": _AUTH_ERRORS["401"],
                "403": _AUTH_ERRORS["403"],
            },
        }
    }
    return result
