"""Regenerate ``data/reference/`` from the original open data sets.

The simulator reads only the compact extracts written here; this script is the one place that
knows the quirks of the originals (see ``data/reference/SOURCE.md``):

* AFDC Massachusetts stations: public electric rows, merged into sites (rows within
  ``MERGE_M`` metres of each other form one site); a site is DC when any row has DC fast ports.
* Dundee and Perth & Kinross public sessions: ISO dates with day and month swapped when the day
  is <= 12 (a CKAN export artefact), Dundee's last file in ``dd/mm/yyyy``; split into AC and DC by
  charger model.
* Trondheim residential garages: semicolon separated, decimal comma, ``dd.mm.yyyy HH:MM``;
  ``Private`` chargers are home charging, ``Shared`` ones a shared apartment-garage charger.

Usage::

    .venv/bin/python -m pipelines.sim.build_reference --src ../shared/data --out data/reference
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.cluster import DBSCAN

EARTH_RADIUS_M = 6_371_008.8
#: AFDC rows closer than this are one physical site (same car park, several port groups)
MERGE_M = 30.0
#: session durations outside (1 min, 48 h) are failed or never-closed sessions
MIN_DURATION_H = 1.0 / 60.0
MAX_DURATION_H = 48.0
DC_MODEL_WORDS = ("Rapid Charger", "50kW Raption")


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def build_stations(afdc_csv: Path) -> pd.DataFrame:
    """Public electric AFDC rows merged into sites.

    Returns one row per site: ``site`` (int, 0..n-1 in a stable order), ``lat``, ``lon`` (mean
    of the merged rows), ``name`` (of the first row by AFDC id), ``afdc_id`` (smallest id),
    ``rows``, ``l2_ports``, ``dc_ports``, ``dc`` (bool), ``open_date`` (earliest, YYYY-MM-DD).
    """
    raw = pd.read_csv(afdc_csv, low_memory=False, encoding="utf-8-sig")
    raw = raw[(raw["Fuel Type Code"] == "ELEC") & (raw["Access Code"] == "public")].copy()
    raw = raw.dropna(subset=["Latitude", "Longitude"]).sort_values("ID")
    xyz = _unit_vectors(raw["Latitude"].to_numpy(), raw["Longitude"].to_numpy())
    chord = 2.0 * np.sin(MERGE_M / EARTH_RADIUS_M / 2.0)
    raw["cluster"] = DBSCAN(eps=chord, min_samples=1).fit_predict(xyz)
    raw["open"] = pd.to_datetime(raw["Open Date"], format="%m/%d/%Y", errors="coerce")
    g = raw.groupby("cluster", sort=False)
    sites = pd.DataFrame(
        {
            "lat": g["Latitude"].mean(),
            "lon": g["Longitude"].mean(),
            "name": g["Station Name"].first(),
            "afdc_id": g["ID"].min(),
            "rows": g.size(),
            "l2_ports": g["EV Level2 EVSE Num"].sum().astype(int),
            "dc_ports": g["EV DC Fast Count"].sum().astype(int),
            "open_date": g["open"].min().dt.strftime("%Y-%m-%d"),
        }
    )
    sites["dc"] = sites["dc_ports"] > 0
    sites = sites.sort_values("afdc_id").reset_index(drop=True)
    sites["lat"] = sites["lat"].round(7)
    sites["lon"] = sites["lon"].round(7)
    sites.insert(0, "site", np.arange(len(sites)))
    return sites


def _swapped_iso(text: pd.Series) -> pd.Series:
    """Parse ``YYYY-AA-BBT..`` where day and month are swapped whenever the true day <= 12."""
    parts = text.str.extract(r"^(\d{4})-(\d{2})-(\d{2})")
    y, a, b = (pd.to_numeric(parts[i], errors="coerce") for i in range(3))
    swap = b <= 12
    month = b.where(swap, a)
    day = a.where(swap, b)
    return pd.to_datetime(pd.DataFrame({"year": y, "month": month, "day": day}), errors="coerce")


def _parse_day(text: pd.Series) -> pd.Series:
    iso = text.str.contains("T", na=False)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    out[iso] = _swapped_iso(text[iso])
    out[~iso] = pd.to_datetime(text[~iso], format="%d/%m/%Y", errors="coerce")
    return out


def _public_file(path: str) -> pd.DataFrame:
    d = pd.read_csv(path, low_memory=False, dtype=str)
    start = _parse_day(d["Start Date"]) + pd.to_timedelta(d["Start Time"] + ":00", errors="coerce")
    end = _parse_day(d["End Date"]) + pd.to_timedelta(d["End Time"] + ":00", errors="coerce")
    dc = d["Model"].fillna("").str.contains("|".join(DC_MODEL_WORDS))
    return pd.DataFrame(
        {
            "start": start,
            "end": end,
            "energy_kwh": pd.to_numeric(d["Total kWh"], errors="coerce"),
            "kind": np.where(dc, "public_dc", "public_ac"),
            "source": Path(path).parent.name,
        }
    )


def _home_file(path: str) -> pd.DataFrame:
    d = pd.read_csv(path, sep=";", decimal=",", dtype=str)
    fmt = "%d.%m.%Y %H:%M"
    return pd.DataFrame(
        {
            "start": pd.to_datetime(d["Start_plugin"], format=fmt, errors="coerce"),
            "end": pd.to_datetime(d["End_plugout"], format=fmt, errors="coerce"),
            "energy_kwh": pd.to_numeric(d["El_kWh"].str.replace(",", "."), errors="coerce"),
            "kind": np.where(d["User_type"] == "Private", "home", "apartment_shared"),
            "source": "trondheim-residential",
        }
    )


def build_profiles(src: Path) -> pd.DataFrame:
    """Cleaned session profiles: one row per real session that closed normally.

    Columns: ``kind`` (public_ac, public_dc, home, apartment_shared), ``source``, ``weekday``
    (0 = Monday, of the local plug-in), ``start_min`` (local minute of day), ``duration_min``,
    ``energy_kwh``. Sessions without an end, with no energy or outside (1 min, 48 h) are dropped.
    """
    frames = [
        _public_file(p) for p in sorted(glob.glob(str(src / "dundee-public" / "Charging*.csv")))
    ]
    frames += [
        _public_file(p) for p in sorted(glob.glob(str(src / "perth-kinross-public" / "*.csv")))
    ]
    frames += [
        _home_file(p) for p in sorted(glob.glob(str(src / "trondheim-residential" / "*.csv")))
    ]
    s = pd.concat(frames, ignore_index=True)
    dur_h = (s["end"] - s["start"]).dt.total_seconds() / 3600.0
    ok = (
        s["start"].notna()
        & dur_h.between(MIN_DURATION_H, MAX_DURATION_H)
        & (s["energy_kwh"] > 0)
        & (s["energy_kwh"] < 150)
    )
    s, dur_h = s[ok], dur_h[ok]
    out = pd.DataFrame(
        {
            "kind": s["kind"].to_numpy(),
            "source": s["source"].to_numpy(),
            "weekday": s["start"].dt.weekday.to_numpy().astype("int8"),
            "start_min": (s["start"].dt.hour * 60 + s["start"].dt.minute)
            .to_numpy()
            .astype("int16"),
            "duration_min": np.round(dur_h.to_numpy() * 60.0).astype("int32"),
            "energy_kwh": np.round(s["energy_kwh"].to_numpy(), 2).astype("float32"),
        }
    )
    return out.sort_values(
        ["kind", "source", "weekday", "start_min", "duration_min", "energy_kwh"]
    ).reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    """Write ``stations_ma.csv`` and ``session_profiles.parquet`` into ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default="../shared/data", help="folder holding the original data sets")
    ap.add_argument("--out", default="data/reference")
    args = ap.parse_args(argv)
    src, out = Path(args.src), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stations = build_stations(src / "afdc-us-massachusetts" / "alt_fuel_stations.csv")
    stations.to_csv(out / "stations_ma.csv", index=False, lineterminator="\n")
    profiles = build_profiles(src)
    pq.write_table(
        pa.Table.from_pandas(profiles, preserve_index=False),
        out / "session_profiles.parquet",
        compression="zstd",
    )
    print(
        f"{len(stations)} MA sites ({int(stations['dc'].sum())} DC);",
        f"{len(profiles)} session profiles",
    )
    print(profiles.groupby("kind").size().to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
