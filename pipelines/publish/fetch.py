"""Reference client for downstream systems: fetch the latest published day over HTTP and verify it.

What it does is what ``docs/publishing.md`` asks of every consumer:

1. ``GET <base>/latest.json`` -> the day and its manifest's path;
2. ``GET`` the manifest and its signature and verify the signature with the **public key only**
   (pinned with ``public_key``, or else the one remembered from an earlier fetch into the same
   folder, or – first use only – ``<base>/signing_key.pub``);
3. ``GET`` every file the manifest names and check its size and sha256 (files already held
   locally with the right hash are not downloaded again);
4. only then write the day into ``<out>/<day>/`` and ``<out>/latest.json``, last.

Any mismatch raises :class:`FetchError` with one line saying what did not match; nothing of the
new day is kept in ``out`` then.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from pipelines.publish.signing import verify

__all__ = ["FetchError", "fetch"]

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class FetchError(RuntimeError):
    """The published data could not be fetched or does not verify."""


def fetch(
    base_url: str,
    out_dir: str | os.PathLike[str],
    *,
    public_key: str | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Fetch and verify the latest published day from ``base_url`` into ``out_dir``.

    Parameters
    ----------
    base_url : str
        The publish root served over HTTP(S), e.g. ``https://example.org/chargepoints``.
    out_dir : path
        Local mirror folder; gets ``<day>/...``, ``signing_key.pub`` and ``latest.json``.
    public_key : str, optional
        The publisher's Ed25519 public key (raw 32 bytes, base64). Recommended: obtained out of
        band. Without it, the key remembered in ``out_dir`` is used, or the server's on first use.
    timeout : float
        Seconds per HTTP request.

    Returns
    -------
    dict
        ``date``, ``files`` (count), ``downloaded`` (bytes fetched) and ``key_source``.

    Raises
    ------
    FetchError
        On an HTTP error, a bad signature, a size or hash mismatch, or a changed signing key.
    """
    base = base_url.rstrip("/")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    latest_raw = _get(f"{base}/latest.json", timeout)
    latest = _json(latest_raw, "latest.json")
    day = latest.get("date")
    if not isinstance(day, str) or not _DAY.match(day):
        raise FetchError(f"latest.json has no valid date: {day!r}")
    manifest_rel = _safe(str(latest.get("manifest", f"{day}/nav/manifest.json")))
    signature_rel = _safe(str(latest.get("signature", f"{manifest_rel}.sig")))

    key, key_source = _public_key(base, out, public_key, timeout)
    manifest_raw = _get(f"{base}/{manifest_rel}", timeout)
    signature = _get(f"{base}/{signature_rel}", timeout)
    if not verify(manifest_raw, signature, key):
        raise FetchError(f"signature of {base}/{manifest_rel} does not verify with the public key")
    expected = latest.get("manifest_sha256")
    if expected is not None and hashlib.sha256(manifest_raw).hexdigest() != expected:
        raise FetchError(f"{manifest_rel} does not match the sha256 in latest.json")
    manifest = _json(manifest_raw, manifest_rel)
    if manifest.get("date") != day:
        raise FetchError(f"manifest date {manifest.get('date')!r} differs from latest.json {day!r}")

    nav_dir = manifest_rel.rsplit("/", 1)[0]
    try:
        wanted = [(f"{nav_dir}/{_safe(e['name'])}", e) for e in manifest.get("files", [])]
        wanted += [(f"{day}/{_safe(e['name'])}", e) for e in manifest.get("day_files", [])]
        for _, e in wanted:
            int(e["bytes"]), str(e["sha256"])
    except (KeyError, TypeError, ValueError):
        raise FetchError(f"{manifest_rel} has a malformed file entry") from None
    staging = out / f".fetch-{uuid.uuid4().hex}"
    downloaded = 0
    try:
        for rel, entry in wanted:
            local = out / rel
            if local.is_file() and _sha256_file(local) == entry["sha256"]:
                data = local.read_bytes()
            else:
                data = _get(f"{base}/{rel}", timeout)
                downloaded += len(data)
            if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise FetchError(f"{base}/{rel}: size or sha256 differs from the signed manifest")
            _write(staging / rel, data)
        _write(staging / manifest_rel, manifest_raw)
        _write(staging / signature_rel, signature)
        _replace_dir(staging / day, out / day)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_atomic(out / "signing_key.pub", key.encode("ascii") + b"\n")
    _write_atomic(out / "latest.json", latest_raw)
    return {"date": day, "files": len(wanted), "downloaded": downloaded, "key_source": key_source}


def _public_key(base: str, out: Path, given: str | None, timeout: float) -> tuple[str, str]:
    """The key to verify with and where it came from; refuses a silently changed key."""
    remembered = out / "signing_key.pub"
    if given is not None:
        key, source = given.strip(), "given"
    elif remembered.is_file():
        key, source = remembered.read_text("ascii").strip(), "pinned"
        served = _get(f"{base}/signing_key.pub", timeout).decode("ascii", "replace").strip()
        if served != key:
            raise FetchError(
                f"the server's signing key differs from the one pinned in {remembered}; "
                "pass the new key with --public-key if the publisher rotated it"
            )
    else:
        key = _get(f"{base}/signing_key.pub", timeout).decode("ascii", "replace").strip()
        source = "server (first use)"
    try:
        if len(base64.b64decode(key, validate=True)) != 32:
            raise ValueError
    except (ValueError, binascii.Error):
        raise FetchError("the public key is not 32 bytes of base64") from None
    return key, source


def _get(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        raise FetchError(f"GET {url}: HTTP {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise FetchError(f"GET {url}: {reason}") from None


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise FetchError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise FetchError(f"{what} is not a JSON object")
    return value


def _safe(name: str) -> str:
    """A relative path without ``..`` or absolute parts (the server is not trusted with paths)."""
    if not _SAFE_NAME.match(name) or any(part in (".", "..") for part in name.split("/")):
        raise FetchError(f"refusing unsafe file name in published metadata: {name!r}")
    return name


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _replace_dir(new: Path, final: Path) -> None:
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex}")
        os.replace(final, old)
    os.replace(new, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
