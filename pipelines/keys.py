"""Secret keys: the HMAC key that pseudonymises vehicle ids and the Ed25519 publishing key.

Neither ever comes from the repository. Each is taken, in order, from

1. an environment variable (``CHARGEPOINTS_HMAC_KEY``; ``CHARGEPOINTS_SIGNING_KEY`` holding the
   raw 32-byte Ed25519 seed in base64), which a deployment fills from its secret store or a
   Prefect Secret block (see ``flows/daily.py``), or
2. a key file kept *beside* the lake in ``<lake>.keys/`` (owner-only permissions), generated once
   on first use. The caller is told that it was generated so the run can say so in its log.

A key file is created exclusively (two processes starting at once agree on one key), is never
regenerated once it exists (a new HMAC key would give every vehicle a new pseudonym and break
deduplication and vehicle counts), and is kept owner-only: looser permissions found on an
existing file or folder are tightened back to 0600/0700.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.config import ENV_HMAC_KEY, ENV_SIGNING_KEY

#: a configured HMAC key shorter than this is refused: a short key could be guessed, and with it
#: every pseudonym reversed by hashing candidate vehicle ids
MIN_HMAC_KEY_BYTES = 16


class KeyConfigError(ValueError):
    """A configured key is unusable (too short, not base64, wrong length)."""


@dataclass(frozen=True)
class LoadedKey:
    """A secret and where it came from (never log ``secret``)."""

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
        secret = env.encode("utf-8")
        if len(secret) < MIN_HMAC_KEY_BYTES:
            raise KeyConfigError(
                f"{ENV_HMAC_KEY} is too short ({len(secret)} bytes; at least "
                f"{MIN_HMAC_KEY_BYTES}): a short key lets anyone reverse the pseudonyms"
            )
        return LoadedKey(secret, "env")
    return _file_key(key_dir(lake) / "hmac.key", lambda: secrets.token_bytes(32))


def load_signing_key(lake: str | os.PathLike[str]) -> tuple[Ed25519PrivateKey, LoadedKey]:
    """The Ed25519 private key that signs published manifests."""
    env = os.environ.get(ENV_SIGNING_KEY)
    if env:
        loaded = LoadedKey(_b64(env.encode("ascii", "replace"), ENV_SIGNING_KEY), "env")
    else:
        loaded = _file_key(key_dir(lake) / "signing.key", lambda: secrets.token_bytes(32))
    if len(loaded.secret) != 32:
        raise KeyConfigError(
            f"the signing key ({loaded.origin}) must be a 32-byte Ed25519 seed in base64, "
            f"got {len(loaded.secret)} bytes"
        )
    return Ed25519PrivateKey.from_private_bytes(loaded.secret), loaded


def public_key_b64(key: Ed25519PrivateKey) -> str:
    """Raw 32-byte public key, base64 (the format of ``<publish>/signing_key.pub``)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _b64(data: bytes, what: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{what} is not valid base64") from None


def _file_key(path: Path, make) -> LoadedKey:
    """Read the key at ``path``, or create it exclusively with ``make()`` if there is none."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(folder, 0o700)
    if not path.exists():
        tmp = folder / f".{path.name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64encode(make()))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic and exclusive: a concurrent creator's key wins, not ours
            created = True
        except FileExistsError:
            created = False
        finally:
            tmp.unlink()
        if created:
            return LoadedKey(_b64(path.read_bytes().strip(), str(path)), "generated", str(path))
    _owner_only(path, 0o600)
    return LoadedKey(_b64(path.read_bytes().strip(), str(path)), "file", str(path))


def _owner_only(path: Path, mode: int) -> None:
    """Tighten ``path`` to ``mode`` if group or others may read or enter it."""
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, mode)
