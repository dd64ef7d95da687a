"""The naive baseline: one global DBSCAN over every valid row, no exclusion logic.

What a first attempt would do: read every landing file up to the day, drop rows that do not
parse or break the contract's ranges, drop opted-out rows and re-sent duplicates, then run
``DBSCAN(eps=25 m, min_samples=3)`` over all positions and publish every cluster. No window,
no classification of homes/garages/workplaces, no k-anonymity, no stable ids beyond rounding.
It exists to show what the real pipeline's logic buys (see docs/quality.md).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.cluster import DBSCAN

from pipelines.sim._geo import EARTH_RADIUS_M

EPS_M = 25.0
MIN_SAMPLES = 3
REQUIRED = ("vehicle_id", "session_id", "plug_in_at", "plug_out_at", "lat", "lon", "energy_kwh")


def _read_file(path: Path) -> pd.DataFrame:
    name = path.name
    if name.endswith(".parquet"):
        return pq.read_table(path).to_pandas()
    raw = path.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    if ".csv" in name:
        return pd.read_csv(
            io.BytesIO(raw),
            dtype=str,
            encoding="utf-8-sig",
            on_bad_lines="skip",
            keep_default_na=False,
        )
    rows = []
    for line in raw.decode("utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return pd.DataFrame(rows)


def read_landing(landing_dir: str | Path, last_day: str) -> pd.DataFrame:
    """Valid, opted-in, de-duplicated rows of every landing day <= ``last_day``.

    Columns: vehicle_id, session_id, lat, lon, plug_in (UTC), max_power_kw, landing_day.
    """
    frames = []
    for folder in sorted(Path(landing_dir).iterdir()):
        if not folder.is_dir() or folder.name > last_day:
            continue
        for f in sorted(folder.iterdir()):
            df = _read_file(f)
            if set(REQUIRED) - set(df.columns):
                continue
            df = df.astype(object).where(df.notna(), None)
            df["landing_day"] = folder.name
            frames.append(df)
    if not frames:
        return pd.DataFrame(
            columns=[
                "vehicle_id",
                "session_id",
                "lat",
                "lon",
                "plug_in",
                "max_power_kw",
                "landing_day",
            ]
        )
    df = pd.concat(frames, ignore_index=True)
    num = {c: pd.to_numeric(df[c], errors="coerce") for c in ("lat", "lon", "energy_kwh")}
    power = (
        pd.to_numeric(df.get("max_power_kw"), errors="coerce") if "max_power_kw" in df else np.nan
    )
    t_in = pd.to_datetime(df["plug_in_at"], utc=True, errors="coerce", format="ISO8601")
    t_out = pd.to_datetime(df["plug_out_at"], utc=True, errors="coerce", format="ISO8601")
    opt = (
        df["opt_in"].astype(str).str.lower()
        if "opt_in" in df
        else pd.Series("true", index=df.index)
    )
    has_offset = df["plug_in_at"].astype(str).str.contains(r"(?:[+-]\d\d:\d\d|Z)$", regex=True)
    ok = (
        df["vehicle_id"].notna()
        & (df["vehicle_id"].astype(str) != "")
        & df["session_id"].notna()
        & num["lat"].between(-90, 90)
        & num["lon"].between(-180, 180)
        & ~((num["lat"] == 0) & (num["lon"] == 0))
        & (num["energy_kwh"] >= 0)
        & t_in.notna()
        & t_out.notna()
        & (t_out >= t_in)
        & has_offset
        & ~opt.isin(["false", "0"])
    )
    out = pd.DataFrame(
        {
            "vehicle_id": df["vehicle_id"].astype(str),
            "session_id": df["session_id"].astype(str),
            "lat": num["lat"],
            "lon": num["lon"],
            "plug_in": t_in,
            "max_power_kw": power,
            "landing_day": df["landing_day"],
        }
    )[ok]
    return out.drop_duplicates(["vehicle_id", "session_id"]).reset_index(drop=True)


def cluster_sites(rows: pd.DataFrame) -> pd.DataFrame:
    """One global DBSCAN (eps 25 m, min_samples 3) -> one row per cluster.

    Positions are pooled on a ~1 m grid with per-point weights first (identical clusters up to
    1 m, and it keeps DBSCAN's memory bounded at busy stations).
    """
    cols = [
        "site_id",
        "lat",
        "lon",
        "sessions",
        "vehicles",
        "first_seen",
        "last_seen",
        "power_class",
    ]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    key = np.round(rows["lat"].to_numpy() * 1e5).astype(np.int64) * 100_000_000 + np.round(
        rows["lon"].to_numpy() * 1e5
    ).astype(np.int64)
    uniq, inv, w = np.unique(key, return_inverse=True, return_counts=True)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    la, lo = np.radians(rows["lat"].to_numpy()[first]), np.radians(rows["lon"].to_numpy()[first])
    xyz = np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    chord = 2.0 * np.sin(EPS_M / EARTH_RADIUS_M / 2.0)
    lab = DBSCAN(eps=chord, min_samples=MIN_SAMPLES).fit_predict(xyz, sample_weight=w)[inv]
    r = rows.assign(cluster=lab)
    r = r[r["cluster"] >= 0]
    if r.empty:
        return pd.DataFrame(columns=cols)
    rl, ro = np.radians(r["lat"].to_numpy()), np.radians(r["lon"].to_numpy())
    r = r.assign(
        x=np.cos(rl) * np.cos(ro),
        y=np.cos(rl) * np.sin(ro),
        z=np.sin(rl),
        day=r["plug_in"].dt.strftime("%Y-%m-%d"),
        dc=r["max_power_kw"] >= 20,
    )
    g = r.groupby("cluster")
    x, y, z = g["x"].mean(), g["y"].mean(), g["z"].mean()
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    dc_share = g["dc"].mean()
    sites = pd.DataFrame(
        {
            "lat": lat.round(6),
            "lon": lon.round(6),
            "sessions": g.size(),
            "vehicles": g["vehicle_id"].nunique(),
            "first_seen": g["day"].min(),
            "last_seen": g["day"].max(),
            "power_class": np.where(
                dc_share >= 0.9, "dc", np.where(dc_share <= 0.1, "ac", "mixed")
            ),
        }
    )
    sites["site_id"] = [
        f"nb-{a:.4f}_{b:.4f}" for a, b in zip(sites["lat"], sites["lon"], strict=True)
    ]
    return sites[cols].sort_values("site_id").reset_index(drop=True)


def naive_baseline(landing_dir: str | Path, day: str) -> pd.DataFrame:
    """Sites the naive baseline publishes on ``day`` (see the module docstring)."""
    return cluster_sites(read_landing(landing_dir, day))


def _geojson(sites: pd.DataFrame, prev_ids: set[str]) -> str:
    feats = []
    for r in sites.itertuples(index=False):
        props = {
            "site_id": r.site_id,
            "status": "active" if r.site_id in prev_ids else "new",
            "sessions": int(r.sessions),
            "vehicles": int(r.vehicles),
            "power_class": r.power_class,
            "first_seen": r.first_seen,
            "last_seen": r.last_seen,
            "known": False,
            "registry_id": None,
        }
        feats.append(
            {
                "type": "Feature",
                "id": r.site_id,
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": props,
            }
        )
    return json.dumps(
        {"type": "FeatureCollection", "features": feats}, separators=(",", ":"), sort_keys=True
    )


def write_baseline_publish(
    landing_dir: str | Path, publish_dir: str | Path, last_day: str | None = None, n_days: int = 2
) -> list[str]:
    """Publish the baseline for the last ``n_days`` landing days <= ``last_day`` (GeoJSON only)."""
    landing = Path(landing_dir)
    days = sorted(p.name for p in landing.iterdir() if p.is_dir())
    if last_day:
        days = [d for d in days if d <= last_day]
    if not days:
        raise FileNotFoundError(f"no landing days under {landing}")
    rows = read_landing(landing, days[-1])
    out = Path(publish_dir)
    prev: set[str] = set()
    done = []
    for day in days[-n_days:]:
        sites = cluster_sites(rows[rows["landing_day"] <= day])
        (out / day).mkdir(parents=True, exist_ok=True)
        (out / day / "charge_sites.geojson").write_text(_geojson(sites, prev))
        prev = set(sites["site_id"])
        done.append(day)
    (out / "latest.json").write_text(json.dumps({"date": done[-1]}) + "\n")
    return done
