"""Invariants of the fleet simulator, checked on one small simulation (module fixture).

The fixture: 150 vehicles around Boston, 12 days from 2026-10-25 (crossing the end of US daylight
saving time on 2026-11-01), 5 % corrupted rows, 10 % opted-out vehicles, 5 % re-sent duplicates.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipelines.schema import RAW_COLUMNS, RAW_REQUIRED
from pipelines.sim import SimConfig, simulate
from pipelines.sim.corrupt import fixed

CFG = SimConfig(
    vehicles=150,
    days=12,
    start=dt.date(2026, 10, 25),
    seed=3,
    corrupt_share=0.05,
    share_opted_out=0.1,
    share_duplicate=0.05,
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("sim") / "a"
    return out, simulate(CFG.with_(out=str(out)))


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _read_text_rows(path: Path) -> pd.DataFrame:
    """Every landing row as text (corrupted JSON lines skipped), with its file name."""
    name = path.name
    if name.endswith(".parquet"):
        df = pq.read_table(path).to_pandas()
        df["opt_in"] = df["opt_in"].map({True: "true", False: "false"})
        for c in df.columns:
            if df[c].dtype == float:
                df[c] = df[c].map(lambda v: None if pd.isna(v) else repr(v))
    else:
        raw = path.read_bytes()
        if name.endswith(".gz"):
            raw = gzip.decompress(raw)
        if ".csv" in name:
            df = pd.read_csv(
                io.BytesIO(raw),
                dtype=str,
                encoding="utf-8-sig",
                keep_default_na=False,
                on_bad_lines="skip",
            )
        else:
            rows = []
            for line in raw.decode().splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
            df = pd.DataFrame(rows).astype(str)
    df["file"] = name
    return df


@pytest.fixture(scope="module")
def rows(sim) -> pd.DataFrame:
    out, _ = sim
    return pd.concat(
        [_read_text_rows(p) for p in sorted((out / "landing").rglob("*.*"))], ignore_index=True
    )


def test_same_seed_same_bytes_other_seed_other_bytes(sim, tmp_path):
    """Determinism: a second run with the same seed is byte-identical, another seed is not."""
    out, _ = sim
    again = tmp_path / "b"
    simulate(CFG.with_(out=str(again)))
    assert _digest(again) == _digest(out)
    other = tmp_path / "c"
    simulate(CFG.with_(out=str(other), seed=4))
    assert _digest(other) != _digest(out)


def test_layout_and_every_format(sim):
    """landing/<day>/ for every day, the five formats, registry.csv, truth/, LAST_DATE."""
    out, summary = sim
    days = sorted(p.name for p in (out / "landing").iterdir())
    assert days == [(CFG.start + dt.timedelta(d)).isoformat() for d in range(CFG.days)]
    suffixes = {p.name.split(".", 1)[1] for p in (out / "landing").rglob("*.*")}
    assert suffixes == {"csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"}
    assert (out / "LAST_DATE").read_text().strip() == days[-1] == summary.last_day
    for f in ("stations.parquet", "sessions.parquet", "vehicles.parquet", "summary.json"):
        assert (out / "truth" / f).exists()
    gz = next((out / "landing").rglob("*.gz")).read_bytes()
    assert gz[4:8] == b"\0\0\0\0"  # gzip mtime 0: reproducible


def test_every_file_has_the_contract_columns(sim):
    """Each file holds all required columns, and only contract columns plus known extras."""
    out, _ = sim
    for p in sorted((out / "landing").rglob("*.*")):
        cols = set(_read_text_rows(p).columns) - {"file"}
        assert set(RAW_REQUIRED) <= cols, p.name
        assert cols - set(RAW_COLUMNS) <= {"firmware"}, p.name


def test_corrupted_share_close_to_configured(sim):
    """5 % configured: observed within 3 binomial standard deviations."""
    out, _ = sim
    s = pd.read_parquet(out / "truth" / "sessions.parquet")
    sd = np.sqrt(0.05 * 0.95 / len(s))
    assert abs(s["corrupted"].mean() - 0.05) < 3 * sd
    assert s["corruption"].nunique() >= 12  # many kinds
    assert (s["corruption"].notna() == s["corrupted"]).all()


def test_opted_out_vehicles_flagged_in_truth_and_rows(sim, rows):
    """Opted-out vehicles: every truth session opt_in False, every uploaded row says false/0."""
    out, _ = sim
    v = pd.read_parquet(out / "truth" / "vehicles.parquet")
    s = pd.read_parquet(out / "truth" / "sessions.parquet")
    out_ids = set(v.loc[~v["opt_in"], "vehicle_id"])
    assert 5 <= len(out_ids) <= 30
    assert set(s.loc[~s["opt_in"], "vehicle_id"]) == out_ids & set(s["vehicle_id"])
    clean = s.loc[~s["corrupted"], "session_id"]
    r = rows[rows["session_id"].isin(clean)]
    flag = r["opt_in"].str.lower().isin(["false", "0"])
    assert (flag == r["vehicle_id"].isin(out_ids)).all()
    # opted-out-only public stations exist and no opted-in vehicle charges there
    st = pd.read_parquet(out / "truth" / "stations.parquet")
    oo = set(st.loc[st["optout_only"], "station_id"])
    assert oo
    assert s.loc[s["station_id"].isin(oo), "opt_in"].eq(False).all()


def test_duplicates_are_exact_resends(sim, rows):
    """A (vehicle_id, session_id) seen twice carries the same values in every column."""
    out, _ = sim
    s = pd.read_parquet(out / "truth" / "sessions.parquet")
    key = ["vehicle_id", "session_id"]
    clean = rows[rows["session_id"].isin(s.loc[~s["corrupted"], "session_id"])]
    dup = clean[clean.duplicated(key, keep=False)].drop(columns="file")
    assert len(dup) > 10
    per = dup.fillna("<absent>").groupby(key).nunique()
    assert (per == 1).all().all()
    # every extra copy on disk is a re-send recorded in the truth (json lines cut in half aside)
    extra = len(rows) - len(rows.drop_duplicates(key))
    assert extra <= s["resent"].sum() <= extra + s["corrupted"].sum()


def test_homes_never_in_registry_and_registry_near_truth(sim):
    """Only public stations carry a registry id; registry.csv positions are within 50 m."""
    out, _ = sim
    st = pd.read_parquet(out / "truth" / "stations.parquet")
    reg = pd.read_csv(out / "registry.csv")
    assert list(reg.columns) == ["registry_id", "lat", "lon", "name"]
    assert st.loc[~st["kind"].str.startswith("public"), "registry_id"].isna().all()
    m = reg.merge(st, on="registry_id", suffixes=("", "_t"))
    assert len(m) == len(reg) > 0
    d = np.hypot(
        (m["lat"] - m["lat_t"]) * 111_320, (m["lon"] - m["lon_t"]) * 111_320 * np.cos(0.74)
    )
    assert d.max() < 50


def test_truth_kinds_and_station_lifecycle(sim):
    """Kinds are the five documented ones; no session before a station opens or after it closes."""
    out, _ = sim
    st = pd.read_parquet(out / "truth" / "stations.parquet")
    assert set(st["kind"]) == {"public_ac", "public_dc", "home", "apartment_garage", "workplace"}
    s = pd.read_parquet(out / "truth" / "sessions.parquet").merge(st, on="station_id")
    day = s["plug_in_utc"].dt.tz_convert("America/New_York").dt.date
    opened, closed = s["opened"].notna(), s["closed"].notna()
    assert (day[opened] >= s.loc[opened, "opened"]).all()
    assert (day[closed] < s.loc[closed, "closed"]).all()
    assert st["opened"].notna().any() and st["closed"].notna().any()


def test_offsets_follow_new_york_dst(sim, rows):
    """Each valid timestamp has New York's offset at that instant; -04:00 and -05:00 both occur."""
    out, _ = sim
    s = pd.read_parquet(out / "truth" / "sessions.parquet")
    r = rows[rows["session_id"].isin(s.loc[~s["corrupted"], "session_id"])]
    for col in ("plug_in_at", "plug_out_at"):
        text = r[col]
        utc = pd.to_datetime(text, utc=True, format="ISO8601")
        local = utc.dt.tz_convert("America/New_York")
        expect = local.map(lambda t: t.strftime("%z")).str.replace(
            r"(\d\d)(\d\d)$", r"\1:\2", regex=True
        )
        assert (text.str[-6:] == expect).all()
        assert (text.str[:19] == local.dt.strftime("%Y-%m-%dT%H:%M:%S")).all()
    assert set(r["plug_in_at"].str[-6:]) == {"-04:00", "-05:00"}


def test_uploads_after_sessions_and_some_late(sim):
    """No session lands before its plug-out (UTC) day; a share lands days later."""
    out, _ = sim
    s = pd.read_parquet(out / "truth" / "sessions.parquet")
    plug_day = s["plug_in_utc"].dt.date
    up = pd.to_datetime(s["upload_day"]).dt.date
    lag = (pd.to_datetime(up) - pd.to_datetime(plug_day)).dt.days
    assert (lag >= 0).all()
    assert (lag >= 2).mean() > 0.05


def test_fixed_formats_like_printf():
    """fixed() == '%.Nf' including negatives and rounding, except it never prints '-0.0'."""
    x = np.array([0.0, -0.04, 42.36012345, -71.05890004, 1e-9, 99.995])
    assert fixed(x, 7).tolist() == [f"{v:.7f}" for v in x]
    assert fixed(x, 1).tolist() == ["0.0", "0.0", "42.4", "-71.1", "0.0", "100.0"]


def test_friends_of_one_block_spread_over_nearby_homes():
    """The older friend model (``friend_candidates``): 60 vehicles living in one apartment block
    and a street of 30 single-family homes 20 m apart next to it; the first home's own car lives
    at home 0.

    Expected: with 20 candidates the block's friends are spread over the 20 homes nearest it
    (no home hosts more than 10 of them) and nobody befriends its own home; with 1 candidate
    (the nearest-home model) all 60 befriend the same house."""
    from pipelines.sim.fleet import _nearest_friend_homes

    h_lat, h_lon, res_lat, res_lon, own = _street_and_block()
    rng = np.random.default_rng(1)
    spread = _nearest_friend_homes(5, h_lat, h_lon, res_lat, res_lon, own, 20, rng)
    assert spread[-1] != own[-1] and (spread >= 5).all() and (spread < 35).all()
    assert np.bincount(spread[:60] - 5).max() <= 10
    assert len(np.unique(spread[:60])) >= 15 and spread[:60].max() - 5 < 21
    nearest = _nearest_friend_homes(5, h_lat, h_lon, res_lat, res_lon, own, 1, rng)
    assert len(np.unique(nearest[:60])) == 1 and nearest[-1] == 5 + 1


def test_friends_follow_a_gravity_law_without_hubs():
    """The default friend model: the same block of 60 and street of 30 homes, plus a second
    street of 30 homes 5 km east. Pools of 64 random homes, weight 1 / (1 + (d / 2 km)^2).

    Expected: nobody befriends its own home; most friends live on the near street (a home 5 km
    away weighs 1/7.25 of one next door, and half the pool is there: about 1 in 8 goes east);
    no home of the near street is befriended by more than 8 of the 60 (uniform: 1.7 each) —
    the edge home nearest the block is no hub; a one-home world gives its resident no friend."""
    from pipelines.sim.fleet import _friend_homes

    h_lat, h_lon, res_lat, res_lon, own = _street_and_block()
    m_lon = 1 / (111_195.0 * np.cos(np.radians(42.36)))
    h_lat, h_lon = np.r_[h_lat, h_lat], np.r_[h_lon, h_lon + 5000 * m_lon]
    f = _friend_homes(5, h_lat, h_lon, res_lat, res_lon, own, 64, 2000.0, np.random.default_rng(1))
    assert f[-1] != own[-1] and (f >= 5).all() and (f < 65).all()
    east = (f[:60] - 5) >= 30
    assert 2 <= east.sum() <= 15
    assert np.bincount(f[:60][~east] - 5).max() <= 8
    alone = _friend_homes(5, h_lat[:1], h_lon[:1], res_lat[-1:], res_lon[-1:], own[-1:], 8,
                          2000.0, np.random.default_rng(1))  # fmt: skip
    assert alone.tolist() == [-1]


def _street_and_block():
    """30 homes 20 m apart on a street, an apartment block of 60 vehicles 33 m north of its
    first home, and one more vehicle living at home 0 (5 public stations come first)."""
    lat0, lon0, m_lon = 42.36, -71.06, 1 / (111_195.0 * np.cos(np.radians(42.36)))
    h_lat, h_lon = np.full(30, lat0), lon0 + np.arange(30) * 20 * m_lon
    res_lat = np.r_[np.full(60, lat0 + 0.0003), lat0]
    res_lon = np.r_[np.full(60, lon0), lon0]
    own = np.r_[np.full(60, -1), 5 + 0]
    return h_lat, h_lon, res_lat, res_lon, own


def test_homes_keep_clear_of_every_station_and_workplace():
    """A 3,000-vehicle world in which 30 % of the single-family homes are placed next to a
    public station (``share_home_near_station``, 3 % by default).

    Expected: every home is at least 27 m from every public station and workplace (the 30 m
    clearance less the lots' +-2 m jitter), the near-station ones included (they were placed
    30-80 m from their own station without looking at the others: 3-25 m from another one in
    dense worlds); and the near-station homes are there: hundreds within 80 m of a station.
    """
    from scipy.spatial import cKDTree

    from pipelines.sim._geo import to_xyz
    from pipelines.sim.fleet import build_world

    cfg = SimConfig(vehicles=3000, seed=5, share_home_near_station=0.3)
    st = build_world(cfg, np.random.default_rng(5)).stations
    avoid = st[st["kind"].str.startswith("public") | (st["kind"] == "workplace")]
    home = st[st["kind"] == "home"]
    d, _ = cKDTree(to_xyz(avoid["lat"].to_numpy(), avoid["lon"].to_numpy())).query(
        to_xyz(home["lat"].to_numpy(), home["lon"].to_numpy())
    )
    assert d.min() >= 27.0
    assert (d < 80).sum() >= 300
