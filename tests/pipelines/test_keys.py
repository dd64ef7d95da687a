"""Secret keys: from the environment, or generated once beside the lake, owner-only, stable."""

from __future__ import annotations

import base64
import multiprocessing as mp
import os
import stat

import pytest

from pipelines.config import ENV_HMAC_KEY, ENV_SIGNING_KEY
from pipelines.keys import (
    KeyConfigError,
    key_dir,
    load_hmac_key,
    load_signing_key,
    public_key_b64,
)


@pytest.fixture(autouse=True)
def no_env_keys(monkeypatch):
    monkeypatch.delenv(ENV_HMAC_KEY, raising=False)
    monkeypatch.delenv(ENV_SIGNING_KEY, raising=False)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_generated_once_beside_the_lake_owner_only(tmp_path):
    """First use generates 32 random bytes in <lake>.keys/hmac.key (0600, folder 0700), outside
    the lake; later uses read the same key and say so ("file")."""
    lake = tmp_path / "lake"
    first = load_hmac_key(lake)
    assert first.origin == "generated" and len(first.secret) == 32
    assert key_dir(lake) == tmp_path / "lake.keys"
    assert first.path == str(tmp_path / "lake.keys" / "hmac.key")
    assert mode(first.path) == 0o600 and mode(key_dir(lake)) == 0o700
    assert not lake.exists() or not any(lake.rglob("*.key"))  # never inside the lake
    again = load_hmac_key(lake)
    assert (again.origin, again.secret) == ("file", first.secret)
    assert list(key_dir(lake).iterdir()) == [key_dir(lake) / "hmac.key"]  # no temporaries left


def test_loose_permissions_are_tightened(tmp_path):
    lake = tmp_path / "lake"
    key = load_hmac_key(lake)
    os.chmod(key.path, 0o644)
    os.chmod(key_dir(lake), 0o755)
    assert load_hmac_key(lake).secret == key.secret
    assert mode(key.path) == 0o600 and mode(key_dir(lake)) == 0o700


def test_environment_wins_and_short_keys_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_HMAC_KEY, "a-long-enough-secret-from-the-vault")
    key = load_hmac_key(tmp_path / "lake")
    assert (key.origin, key.secret) == ("env", b"a-long-enough-secret-from-the-vault")
    assert not key_dir(tmp_path / "lake").exists()  # nothing generated
    monkeypatch.setenv(ENV_HMAC_KEY, "short")
    with pytest.raises(KeyConfigError, match="too short"):
        load_hmac_key(tmp_path / "lake")


def test_signing_key_from_env_file_or_generated(tmp_path, monkeypatch):
    """The same seed gives the same public key; a bad seed is refused with a clear message."""
    lake = tmp_path / "lake"
    key, loaded = load_signing_key(lake)
    assert loaded.origin == "generated" and mode(loaded.path) == 0o600
    key2, loaded2 = load_signing_key(lake)
    assert loaded2.origin == "file" and public_key_b64(key2) == public_key_b64(key)
    assert len(base64.b64decode(public_key_b64(key))) == 32
    monkeypatch.setenv(ENV_SIGNING_KEY, base64.b64encode(loaded.secret).decode())
    key3, loaded3 = load_signing_key(tmp_path / "other")
    assert loaded3.origin == "env" and public_key_b64(key3) == public_key_b64(key)
    for bad, message in (("not base64!", "base64"), (base64.b64encode(b"x" * 16).decode(), "32")):
        monkeypatch.setenv(ENV_SIGNING_KEY, bad)
        with pytest.raises(KeyConfigError, match=message):
            load_signing_key(lake)


def _load(lake: str, queue) -> None:
    queue.put(load_hmac_key(lake).secret)


def test_concurrent_first_use_agrees_on_one_key(tmp_path):
    """Four processes racing to generate the key all end up with the same one."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_load, args=(str(tmp_path / "lake"), queue)) for _ in range(4)]
    for p in procs:
        p.start()
    secrets = {queue.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(timeout=30)
    assert len(secrets) == 1
    assert load_hmac_key(tmp_path / "lake").secret in secrets
