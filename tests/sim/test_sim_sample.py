"""The bundled data/sample (read only) has what `make run` and the end-to-end tests rely on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def test_sample_holds_every_ingredient():
    """Public AC and DC stations with >= 5 vehicles, homes, garages, a workplace, opted-out rows,
    re-sent duplicates, late uploads and ~1 % corrupted rows; under 3 MB in total."""
    s = pd.read_parquet(SAMPLE / "truth" / "sessions.parquet")
    valid = s[s["opt_in"] & ~s["corrupted"]]
    per = valid.groupby(["kind", "station_id"])["vehicle_id"].nunique()
    assert (per.loc["public_ac"] >= 5).sum() >= 10
    assert (per.loc["public_dc"] >= 5).sum() >= 2
    assert {"home", "apartment_garage", "workplace"} <= set(per.index.get_level_values(0))
    assert (~s["opt_in"]).sum() > 50
    assert s["resent"].sum() > 50
    lag = (pd.to_datetime(s["upload_day"]) - s["plug_in_utc"].dt.tz_localize(None)).dt.days
    assert (lag >= 2).sum() > 100
    assert 0.005 < s["corrupted"].mean() < 0.02
    assert (SAMPLE / "LAST_DATE").read_text().strip() == "2026-11-09"
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size < 3_000_000
