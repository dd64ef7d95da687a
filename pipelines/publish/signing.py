"""Ed25519 signatures of the nav manifest (contract §3).

The signature is over the manifest's exact bytes, base64-encoded; the public key is published as
its raw 32 bytes, base64, at ``<publish>/signing_key.pub``. Ed25519 is deterministic: the same key
and bytes always give the same signature, so re-publishing a day gives byte-identical ``.sig``.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = ["public_key_bytes", "sign", "verify"]


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    """The public half of ``key`` as published: raw 32 bytes, base64, ASCII, newline-terminated."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw) + b"\n"


def sign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """Base64 Ed25519 signature of ``data`` (ASCII, newline-terminated)."""
    return base64.b64encode(key.sign(data)) + b"\n"


def verify(data: bytes, signature_b64: bytes | str, public_key_b64: bytes | str) -> bool:
    """Whether ``signature_b64`` is a valid signature of ``data`` by ``public_key_b64``.

    Uses the public key only. Malformed base64 or a key of the wrong length counts as invalid.

    Examples
    --------
    >>> key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    >>> verify(b"x", sign(b"x", key), public_key_bytes(key)), verify(b"y", sign(b"x", key),
    ...     public_key_bytes(key))
    (True, False)
    """
    try:
        public = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(_strip(public_key_b64), validate=True)
        )
        public.verify(base64.b64decode(_strip(signature_b64), validate=True), data)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def _strip(text: bytes | str) -> bytes:
    return (text.encode("ascii") if isinstance(text, str) else text).strip()
