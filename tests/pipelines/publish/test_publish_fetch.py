"""``chargepoints fetch`` against a real static HTTP server (http.server in a thread)."""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.publish import publish_day
from pipelines.publish.cli import register
from pipelines.publish.signing import public_key_bytes

pytestmark = pytest.mark.integration

DAY = "2026-11-24"


@pytest.fixture
def published(tmp_path, site_factory, signing_key):
    """A publish root with one day of 120 sites, served over HTTP; yields (root, url)."""
    root = tmp_path / "publish"
    publish_day(site_factory(120, seed=41), DAY, str(root), signing_key)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="chargepoints")
    register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_fetch_mirrors_and_verifies(published, tmp_path, capsys):
    root, url = published
    out = tmp_path / "mirror"
    assert run_cli("fetch", url, "--out", str(out)) == 0
    assert "fetched 2026-11-24: 5 files verified" in capsys.readouterr().out
    for name in ("charge_sites.geojson", "charge_sites.parquet", "nav/charge_sites.pmtiles"):
        assert (out / DAY / name).read_bytes() == (root / DAY / name).read_bytes()
    assert json.loads((out / "latest.json").read_text())["date"] == DAY
    # second run: nothing to download, the key pinned from the first run is used
    assert run_cli("fetch", url, "--out", str(out)) == 0
    assert "0 bytes downloaded, key: pinned" in capsys.readouterr().out


def test_tampered_file_fails_with_one_line(published, tmp_path, capsys):
    root, url = published
    geojson = root / DAY / "charge_sites.geojson"
    geojson.write_bytes(geojson.read_bytes().replace(b'"active"', b'"ACTIVE"', 1))
    out = tmp_path / "mirror"
    assert run_cli("fetch", url, "--out", str(out)) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "charge_sites.geojson: size or sha256 differs from the signed manifest" in err
    assert not (out / DAY).exists() and not (out / "latest.json").exists()


def test_tampered_manifest_fails_the_signature(published, tmp_path, capsys):
    root, url = published
    manifest = root / DAY / "nav" / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"site_count":120', b'"site_count":121'))
    assert run_cli("fetch", url, "--out", str(tmp_path / "m")) == 1
    assert "does not verify with the public key" in capsys.readouterr().err


def test_a_different_pinned_key_is_refused(published, tmp_path, capsys):
    _, url = published
    other = Ed25519PrivateKey.from_private_bytes(bytes(32))
    key_file = tmp_path / "other.pub"
    key_file.write_bytes(public_key_bytes(other))
    assert run_cli("fetch", url, "--out", str(tmp_path / "m"), "--public-key", str(key_file)) == 1
    assert "does not verify" in capsys.readouterr().err


def test_server_key_swap_is_detected_after_first_use(published, tmp_path, capsys, site_factory):
    """An attacker re-signing with their own key and serving their public key is caught, because
    the first fetch pinned the real key."""
    root, url = published
    out = tmp_path / "mirror"
    assert run_cli("fetch", url, "--out", str(out)) == 0
    evil = Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    publish_day(site_factory(10, seed=99), "2026-11-25", str(root), evil)
    assert run_cli("fetch", url, "--out", str(out)) == 1
    assert "differs from the one pinned" in capsys.readouterr().err
    assert json.loads((out / "latest.json").read_text())["date"] == DAY


def test_the_given_key_is_accepted_as_base64_text(published, tmp_path, signing_key):
    _, url = published
    key = base64.b64encode(base64.b64decode(public_key_bytes(signing_key))).decode()
    assert run_cli("fetch", url, "--out", str(tmp_path / "m"), "--public-key", key) == 0


def test_unreachable_server_is_one_clear_line(tmp_path, capsys):
    out = str(tmp_path / "m")
    assert run_cli("fetch", "http://127.0.0.1:9", "--out", out, "--timeout", "2") == 1
    err = capsys.readouterr().err
    assert err.startswith("chargepoints fetch: error: GET http://127.0.0.1:9/latest.json")
