"""The naive baseline on a tiny hand-made landing folder, and the reference-data parsers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipelines.sim._geo import offset
from pipelines.sim.baseline import naive_baseline, write_baseline_publish
from pipelines.sim.build_reference import _parse_day, build_stations
from pipelines.sim.config import REFERENCE_DIR
from pipelines.sim.reference import load_profiles, load_stations

HEADER = "vehicle_id,session_id,plug_in_at,plug_out_at,lat,lon,energy_kwh,opt_in"


def _rows(vehicle: str, east_m: float, n: int, opt_in: str = "true") -> list[str]:
    lat, lon = offset(np.full(n, 42.36), np.full(n, -71.06), np.full(n, east_m), np.zeros(n))
    return [
        f"{vehicle},{vehicle}-{i},2026-11-01T19:00:00-05:00,2026-11-02T07:00:00-05:00,"
        f"{lat[i]:.7f},{lon[i]:.7f},10.0,{opt_in}"
        for i in range(n)
    ]


def test_baseline_chains_neighbouring_homes(tmp_path):
    """Homes 20 m apart (eps 25 m) become one "site"; an opted-out home and a lone session don't.

    Rows: home A at 0 m, home B at 20 m (5 sessions each), opted-out home C at 500 m (5), one
    session at 1 km, one row with a bad timestamp, one re-sent duplicate of A's first session.
    """
    day = tmp_path / "landing" / "2026-11-02"
    day.mkdir(parents=True)
    lines = [HEADER, *_rows("A", 0, 5), *_rows("B", 20, 5), *_rows("C", 500, 5, "false")]
    lines += _rows("D", 1000, 1)
    lines += ["E,E-1,yesterday,2026-11-02T07:00:00-05:00,42.36,-71.06,1.0,true"]
    (day / "a.csv").write_text("\n".join(lines) + "\n")
    (day / "b.csv").write_text(HEADER + "\n" + _rows("A", 0, 1)[0] + "\n")
    sites = naive_baseline(tmp_path / "landing", "2026-11-02")
    assert len(sites) == 1
    assert sites.loc[0, "sessions"] == 10 and sites.loc[0, "vehicles"] == 2
    published = write_baseline_publish(tmp_path / "landing", tmp_path / "pub")
    assert published == ["2026-11-02"]
    doc = json.loads((tmp_path / "pub" / "2026-11-02" / "charge_sites.geojson").read_text())
    assert doc["features"][0]["properties"]["status"] == "new"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-01-12T00:00:00", "2017-12-01"),  # day <= 12: day and month swapped
        ("2018-05-06T00:00:00", "2018-06-05"),
        ("2017-08-31T00:00:00", "2017-08-31"),  # day > 12: as written
        ("2017-12-13T00:00:00", "2017-12-13"),
        ("06/09/2018", "2018-09-06"),  # Dundee's last file: dd/mm/yyyy
    ],
)
def test_public_session_dates(text, expected):
    got = _parse_day(pd.Series([text]))[0]
    assert got.strftime("%Y-%m-%d") == expected


def test_station_rows_merge_into_sites(tmp_path):
    """Rows 10 m apart merge (DC if any row has DC); a row 100 m away stays a site of its own."""
    lat, lon = offset(np.full(3, 42.0), np.full(3, -71.0), np.array([0.0, 10.0, 100.0]), 0)
    df = pd.DataFrame(
        {
            "Fuel Type Code": "ELEC",
            "Access Code": ["public", "public", "public"],
            "Station Name": ["A", "A2", "B"],
            "Latitude": lat,
            "Longitude": lon,
            "ID": [1, 2, 3],
            "EV Level2 EVSE Num": [2, np.nan, 4],
            "EV DC Fast Count": [np.nan, 2, np.nan],
            "Open Date": ["1/2/2020", "3/4/2021", "5/6/2022"],
        }
    )
    df.to_csv(tmp_path / "afdc.csv", index=False)
    sites = build_stations(tmp_path / "afdc.csv")
    assert sites["rows"].tolist() == [2, 1]
    assert sites["dc"].tolist() == [True, False]
    assert sites["open_date"].tolist() == ["2020-01-02", "2022-05-06"]


def test_bundled_reference_is_complete():
    """The committed extracts: 2,252 MA sites (358 DC) and profiles for every kind."""
    st = load_stations(REFERENCE_DIR)
    assert len(st) == 2252 and int(st["dc"].sum()) == 358
    prof = load_profiles(REFERENCE_DIR)
    assert {k: len(v) > 100 for k, v in prof.items()} == dict.fromkeys(prof, True)
    # DC sessions are short, home sessions long (median minutes)
    assert np.median(prof["public_dc"][:, 1]) < 60 < 300 < np.median(prof["home"][:, 1])
