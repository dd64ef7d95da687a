"""Load the bundled real-data extracts in ``data/reference/`` (built by :mod:`build_reference`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PROFILE_KINDS: tuple[str, ...] = ("public_ac", "public_dc", "home", "apartment_shared", "workplace")


def load_stations(reference_dir: str | Path) -> pd.DataFrame:
    """AFDC Massachusetts public sites: site, lat, lon, name, afdc_id, l2_ports, dc_ports, dc."""
    return pd.read_csv(Path(reference_dir) / "stations_ma.csv")


def load_profiles(reference_dir: str | Path) -> dict[str, np.ndarray]:
    """Empirical session profiles per kind, as an ``(n, 3)`` float array.

    Columns: local start minute of day, duration in minutes, energy in kWh; rows are real
    sessions, so drawing whole rows keeps the joint distribution. ``workplace`` has no real
    source: it is the public AC sessions starting on a weekday between 06:30 and 10:00 and
    lasting at least three hours (commuters plugging in on arrival).
    """
    p = pd.read_parquet(Path(reference_dir) / "session_profiles.parquet")
    cols = ["start_min", "duration_min", "energy_kwh"]
    out = {k: p.loc[p["kind"] == k, cols].to_numpy(np.float64) for k in PROFILE_KINDS[:4]}
    work = (
        (p["kind"] == "public_ac")
        & (p["weekday"] < 5)
        & p["start_min"].between(390, 600)
        & (p["duration_min"] >= 180)
    )
    out["workplace"] = p.loc[work, cols].to_numpy(np.float64)
    return out
