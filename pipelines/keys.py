"""Secret keys: the HMAC key that pseudonymises vehicle ids and the Ed25519 publishing key.

Neither ever comes from the repository. Each is taken, in order, from

1. an environment variable (``CHARGEPOINTS_HMAC_KEY``; ``CHARGEPOINTS_SIGNING_KEY`` holding the
   raw 32-byte Ed25519 seed in base64), which a deployment fills from its secret store or a
   Prefect Secret block (see ``flows/daily.py``), or
2. a key file kept *beside* the lake in ``<lake>.keys/`` (owner-only permissions), generated once
   on first use. The caller is told that it was generated so the run can say so in its log.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.config import ENV_HMAC_KEY, ENV_SIGNING_KEY


@dataclass(frozen=True)
class LoadedKey:
    secret: bytes
    #: where it came from: "env", "file" or "generated"
    origin: str
    path: str | None = None


def key_dir(lake: str | os.PathLike[str]) -> Path:
    """The folder beside the lake holding generated keys: ``data/lake`` -> ``data/lake.keys``."""
    lake = Path(lake).resolve()
    return lake.with_name(lake.name + ".keys")


def load_hmac_key(lake: str | os.PathLike[str]) -> LoadedKey:
    """The pseudonymisation key (32 random bytes unless configured)."""
    env = os.environ.get(ENV_HMAC_KEY)
    if env:
        return LoadedKey(env.encode("utf-8"), "env")
    return _file_key(key_dir(lake) / "hmac.key", lambda: secrets.token_bytes(32))


def load_signing_key(lake: str | os.PathLike[str]) -> tuple[Ed25519PrivateKey, LoadedKey]:
    """The Ed25519 private key that signs published manifests."""
    env = os.environ.get(ENV_SIGNING_KEY)
    if env:
        loaded = LoadedKey(base64.b64decode(env), "env")
    else:
        loaded = _file_key(key_dir(lake) / "signing.key", lambda: secrets.token_bytes(32))
    return Ed25519PrivateKey.from_private_bytes(loaded.secret), loaded


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """Raw 32-byte public key, base64 (the format of ``<publish>/signing_key.pub``)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _file_key(path: Path, make) -> LoadedKey:
    if path.exists():
        return LoadedKey(base64.b64decode(path.read_bytes()), "file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    secret = make()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64encode(secret))
    os.replace(tmp, path)
    return LoadedKey(secret, "generated", str(path))
