"""Ed25519 verification of the policy document, against a pinned public key.

The server signs the exact bytes of the response body (the JSON document, or the YAML) with its
Ed25519 key and sends the signature base64-encoded (standard alphabet, padded) in
`X-Policy-Signature`. The version is inside those bytes ("version" in the JSON, a
`# policy-version: N` comment line in the YAML), so a replayed old document is recognised as old.
"""

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class PolicyRejected(Exception):
    """A document that must not be applied: unsigned, badly signed, malformed or older."""


def load_public_key(public_key_pem: str | bytes) -> Ed25519PublicKey:
    pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the pinned policy key must be an Ed25519 public key (SPKI PEM)")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """The server's `X-Policy-Key-Id`: SHA-256 of the raw 32-byte public key, first 16 hex digits."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def verify(key: Ed25519PublicKey, body: bytes, signature_b64: str | None) -> None:
    """Raise PolicyRejected unless `signature_b64` is the pinned key's signature of `body`."""
    if not signature_b64:
        raise PolicyRejected("the document is unsigned (no X-Policy-Signature)")
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PolicyRejected("the signature is not base64") from exc
    try:
        key.verify(signature, body)
    except InvalidSignature as exc:
        raise PolicyRejected("the signature does not match the pinned key") from exc
