"""publish_day end to end on a local folder: layout, signature, hashes, delta, determinism."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pipelines.publish import PublishError, publish_day

REPO = Path(__file__).resolve().parents[3]
DAY1, DAY2, DAY3 = "2026-11-23", "2026-11-24", "2026-11-25"


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_layout_and_latest(tmp_path, few_sites, signing_key):
    summary = publish_day(few_sites, DAY1, str(tmp_path), signing_key)
    assert sorted(_files(tmp_path)) == [
        f"{DAY1}/charge_sites.geojson",
        f"{DAY1}/charge_sites.parquet",
        f"{DAY1}/nav/charge_sites.pmtiles",
        f"{DAY1}/nav/delta.json",
        f"{DAY1}/nav/manifest.json",
        f"{DAY1}/nav/manifest.json.sig",
        f"{DAY1}/nav/tiles.json",
        "latest.json",
        "signing_key.pub",
    ]
    latest = json.loads((tmp_path / "latest.json").read_text())
    assert latest["date"] == DAY1 and latest["manifest"] == f"{DAY1}/nav/manifest.json"
    assert summary["sites"] == 5 and summary["added"] == 5 and summary["previous"] is None
    assert summary["files"][f"{DAY1}/charge_sites.geojson"] > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_signature_verifies_with_the_public_key_only(tmp_path, few_sites, signing_key):
    """Only signing_key.pub is used: cryptography's own Ed25519 verification, no project code."""
    publish_day(few_sites, DAY1, str(tmp_path), signing_key)
    raw = base64.b64decode((tmp_path / "signing_key.pub").read_bytes())
    assert len(raw) == 32
    public = Ed25519PublicKey.from_public_bytes(raw)
    nav = tmp_path / DAY1 / "nav"
    manifest = (nav / "manifest.json").read_bytes()
    public.verify(base64.b64decode((nav / "manifest.json.sig").read_bytes()), manifest)
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode((nav / "manifest.json.sig").read_bytes()), manifest + b" ")


def test_manifest_sizes_and_hashes_match_the_files(tmp_path, sites_1k, signing_key):
    publish_day(sites_1k, DAY1, str(tmp_path), signing_key)
    nav = tmp_path / DAY1 / "nav"
    manifest = json.loads((nav / "manifest.json").read_text())
    assert manifest["version"] == DAY1 and manifest["date"] == DAY1
    assert manifest["site_count"] == 1000 and manifest["previous_version"] is None
    assert manifest["max_zoom"] >= 14
    names = [e["name"] for e in manifest["files"]]
    assert sorted(names) == ["charge_sites.pmtiles", "delta.json", "tiles.json"]
    for entry, folder in [(e, nav) for e in manifest["files"]] + [
        (e, nav.parent) for e in manifest["day_files"]
    ]:
        data = (folder / entry["name"]).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    tiles = json.loads((nav / "tiles.json").read_text())["tiles"]
    archive = (nav / "charge_sites.pmtiles").read_bytes()
    assert len(tiles) == manifest["tile_count"]
    for offset, length, sha in list(tiles.values())[::50]:
        assert hashlib.sha256(archive[offset : offset + length]).hexdigest() == sha


def test_delta_between_consecutive_days_is_the_set_difference(tmp_path, site_factory, signing_key):
    """Day 2 = day 1 without s000000..s000019, plus u000000..u000006, s000050 moved 20 m."""
    day1 = site_factory(400, seed=21)
    day2 = pd.concat([day1.iloc[20:], site_factory(7, seed=22, prefix="u")], ignore_index=True)
    day2.loc[day2.site_id == "s000050", "lat"] += 0.0002
    publish_day(day1, DAY1, str(tmp_path), signing_key)
    summary = publish_day(day2, DAY2, str(tmp_path), signing_key)
    delta = json.loads((tmp_path / DAY2 / "nav" / "delta.json").read_text())
    assert list(delta)[:5] == ["date", "previous_version", "added", "removed", "changed"]
    assert delta["previous_version"] == DAY1
    assert delta["added"] == sorted(set(day2.site_id) - set(day1.site_id))
    assert delta["removed"] == sorted(set(day1.site_id) - set(day2.site_id))
    assert delta["changed"] == ["s000050"]
    assert summary["added"] == 7 and summary["removed"] == 20 and summary["changed"] == 1
    # the tiles to re-fetch are exactly those whose hash differs from the previous day's
    old = json.loads((tmp_path / DAY1 / "nav" / "tiles.json").read_text())["tiles"]
    new = json.loads((tmp_path / DAY2 / "nav" / "tiles.json").read_text())["tiles"]
    refetch = {k for k in new if k not in old or old[k][2] != new[k][2]}
    assert set(delta["tiles"]["changed"]) == refetch
    assert set(delta["tiles"]["removed"]) == set(old) - set(new)
    manifest = json.loads((tmp_path / DAY2 / "nav" / "manifest.json").read_text())
    assert manifest["previous_version"] == DAY1


def test_rerun_is_byte_identical_and_keeps_its_delta(tmp_path, site_factory, signing_key):
    """Publishing day 2 twice (even after day 3 exists) gives the same bytes for day 2."""
    day1, day2 = site_factory(300, seed=1), site_factory(320, seed=1)
    publish_day(day1, DAY1, str(tmp_path), signing_key)
    publish_day(day2, DAY2, str(tmp_path), signing_key)
    first = _files(tmp_path / DAY2)
    publish_day(day2.sample(frac=1.0, random_state=5), DAY2, str(tmp_path), signing_key)
    assert _files(tmp_path / DAY2) == first
    publish_day(day1, DAY3, str(tmp_path), signing_key)
    publish_day(day2, DAY2, str(tmp_path), signing_key)  # a backfill of an older day
    assert _files(tmp_path / DAY2) == first
    assert json.loads((tmp_path / "latest.json").read_text())["date"] == DAY3  # never backwards


@pytest.mark.slow
def test_bytes_identical_across_processes(tmp_path, site_factory, signing_key):
    """Two fresh interpreters with different hash seeds publish identical bytes (no clock, no
    hash-order dependence)."""
    site_factory(200, seed=3).to_parquet(tmp_path / "sites.parquet")
    script = (
        "import sys, pandas as pd\n"
        "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey\n"
        "from pipelines.publish import publish_day\n"
        "key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))\n"
        "publish_day(pd.read_parquet(sys.argv[1]), '2026-11-24', sys.argv[2], key)\n"
    )
    for seed, out in (("1", "a"), ("2", "b")):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "sites.parquet"), str(tmp_path / out)],
            check=True,
            env=env,
            cwd=REPO,
        )
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_nothing_private_is_published(tmp_path, few_sites, signing_key):
    """The fixture carries a ``vehicle`` column; no published byte holds it or its value."""
    publish_day(few_sites, DAY1, str(tmp_path), signing_key)
    for name, data in _files(tmp_path).items():
        assert b"must-not-leak" not in data, name
        assert b'"vehicle"' not in data, name


def test_no_sites_publishes_a_valid_empty_day(tmp_path, few_sites, signing_key):
    summary = publish_day(few_sites.iloc[:0], DAY1, str(tmp_path), signing_key)
    assert summary["sites"] == 0
    fc = json.loads((tmp_path / DAY1 / "charge_sites.geojson").read_text())
    assert fc["features"] == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda df: df.drop(columns="status"), "status"),
        (lambda df: df.assign(lat=[0.0, 95.0, 1.0, 2.0, 3.0]), "valid WGS84"),
        (lambda df: df.assign(site_id=["x", "x", "y", "z", "w"]), "duplicate"),
        (lambda df: df.assign(status="retired"), "retired"),
    ],
)
def test_bad_input_fails_before_anything_is_written(
    tmp_path, few_sites, signing_key, change, message
):
    with pytest.raises(PublishError, match=message):
        publish_day(change(few_sites), DAY1, str(tmp_path), signing_key)
    assert not (tmp_path / DAY1).exists() and not (tmp_path / "latest.json").exists()


def test_bad_day_is_rejected(tmp_path, few_sites, signing_key):
    with pytest.raises(PublishError, match="YYYY-MM-DD"):
        publish_day(few_sites, "24.11.2026", str(tmp_path), signing_key)


def test_lossless_type_repairs_and_clear_errors(tmp_path, site_factory, signing_key):
    """Float counts without fractions and nullable dtypes are accepted as ints/bools (as when
    carried-over rows were reindexed); a gap or a fraction names the site."""
    sites = site_factory(20)
    sites["sessions"] = sites["sessions"].astype(float)
    sites["vehicles"] = sites["vehicles"].astype("Int64")
    sites["known"] = sites["known"].astype("boolean")
    publish_day(sites, DAY1, str(tmp_path), signing_key)
    fc = json.loads((tmp_path / DAY1 / "charge_sites.geojson").read_text())
    assert isinstance(fc["features"][0]["properties"]["sessions"], int)
    sites = sites.astype({"sessions": object})
    sites.loc[7, "sessions"] = 2.5
    with pytest.raises(PublishError, match=r"'sessions' must be int64.*'s000007' has 2\.5"):
        publish_day(sites, DAY2, str(tmp_path), signing_key)


def test_a_publisher_killed_mid_swap_is_repaired(tmp_path, site_factory, signing_key):
    """State after a kill between 'move the old day aside' and 'move the new day in': the day
    folder is missing, its old copy sits in .replaced-<day>-<token>, a staging folder is left.
    The next publish (of another day) puts the old day back and cleans up."""
    publish_day(site_factory(30), DAY1, str(tmp_path), signing_key)
    before = _files(tmp_path / DAY1)
    (tmp_path / DAY1).rename(tmp_path / f".replaced-{DAY1}-0123abcd")
    (tmp_path / f".staging-{DAY1}-0123abcd").mkdir()
    (tmp_path / f".staging-{DAY2}-fresh").mkdir()  # young: maybe another publisher's, kept
    hour_ago = time.time() - 3600
    for name in (f".replaced-{DAY1}-0123abcd", f".staging-{DAY1}-0123abcd"):
        os.utime(tmp_path / name, (hour_ago, hour_ago))
    publish_day(site_factory(31), DAY2, str(tmp_path), signing_key)
    assert _files(tmp_path / DAY1) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".staging-{DAY2}-fresh",
        DAY1,
        DAY2,
        "latest.json",
        "signing_key.pub",
    ]
    delta = json.loads((tmp_path / DAY2 / "nav" / "delta.json").read_text())
    assert delta["previous_version"] == DAY1
