import json
from pathlib import Path

import pytest

SPEC = Path(__file__).resolve().parents[2] / "spec"


def spec(name: str) -> dict:
    return json.loads((SPEC / name).read_text(encoding="utf-8"))


@pytest.fixture
def signing_key():
    """The spec's test key (signatures.json): documents signed as the server signs them."""
    from cryptography.hazmat.primitives import serialization

    vectors = spec("signatures.json")
    private = serialization.load_pem_private_key(vectors["test_private_key_pem"].encode(), None)
    return private, vectors["public_key_pem"]
