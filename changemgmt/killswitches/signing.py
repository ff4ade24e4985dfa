"""Ed25519 signatures over the exact bytes of the gateway policy.

The key is settings.GATEWAY_SIGNING_KEY (PEM, PKCS8) when set; otherwise one is generated once and
kept in the database, so every web process and worker signs with the same key.
"""

import base64
import functools
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.db import IntegrityError, transaction


def _generated_pem() -> bytes:
    from .models import SigningKey

    stored = SigningKey.objects.filter(pk=1).first()
    if stored is None:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            with transaction.atomic():
                stored = SigningKey.objects.create(pk=1, private_pem=pem.decode())
        except IntegrityError:
            # Another process generated it first: everyone signs with that one.
            stored = SigningKey.objects.get(pk=1)
    return stored.private_pem.encode()


@functools.cache
def _private_key_for(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("GATEWAY_SIGNING_KEY must be an Ed25519 private key")
    return key


def private_key() -> Ed25519PrivateKey:
    configured = settings.GATEWAY_SIGNING_KEY
    pem = configured.encode() if configured else _generated_pem()
    return _private_key_for(pem)


def sign(body: bytes, key: Ed25519PrivateKey | None = None) -> str:
    """`key`: the one `private_key()` gave, when the caller signs several bodies."""
    return base64.b64encode((key or private_key()).sign(body)).decode()


def public_key_pem() -> str:
    return (
        private_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_id(key: Ed25519PrivateKey | None = None) -> str:
    """A short fingerprint of the signing key: documents signed with another key are re-signed."""
    raw = (
        (key or private_key())
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return hashlib.sha256(raw).hexdigest()[:16]


def verify(public_pem: str, body: bytes, signature_b64: str) -> bool:
    """What a gateway does before applying a policy: True only for an untampered body."""
    from cryptography.exceptions import InvalidSignature

    key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(base64.b64decode(signature_b64), body)
    except (InvalidSignature, ValueError):
        return False
    return True
