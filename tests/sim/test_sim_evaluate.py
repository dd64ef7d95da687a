"""The evaluator on hand-made truth and publish folders with known answers.

World (all at ~42.36 N): public stations P1, P2, P3, each used by 5 opted-in vehicles; home H1
(one vehicle); public station O1 used only by 5 opted-out vehicles; P4 used by 2 vehicles.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.sim._geo import offset
from pipelines.sim.evaluate import evaluate, format_table

LAT0, LON0 = 42.36, -71.06
DAY1, DAY2 = "2026-11-01", "2026-11-02"
#: station -> (east km, kind, opted-in vehicles, opted-out vehicles, registry id)
WORLD = {
    "P1": (0.0, "public_ac", 5, 0, "R1"),
    "P2": (1.0, "public_dc", 5, 0, None),
    "P3": (2.0, "public_ac", 5, 0, "R3"),
    "H1": (3.0, "home", 1, 0, None),
    "O1": (4.0, "public_ac", 0, 5, None),
    "P4": (5.0, "public_ac", 2, 0, None),
}


def _pos(station: str, east_m: float = 0.0, north_m: float = 0.0) -> tuple[float, float]:
    lat, lon = offset(
        np.array([LAT0]),
        np.array([LON0]),
        np.array([WORLD[station][0] * 1000 + east_m]),
        np.array([north_m]),
    )
    return float(lat[0]), float(lon[0])


@pytest.fixture
def truth(tmp_path: Path) -> Path:
    d = tmp_path / "truth"
    d.mkdir()
    st, se = [], []
    for sid, (_, kind, n_in, n_out, reg) in WORLD.items():
        lat, lon = _pos(sid)
        st.append(
            {
                "station_id": sid,
                "kind": kind,
                "lat": lat,
                "lon": lon,
                "opened": None,
                "closed": None,
                "registry_id": reg,
                "optout_only": n_out > 0,
            }
        )
        for i in range(n_in + n_out):
            se.append(
                {
                    "vehicle_id": f"{sid}-v{i}",
                    "session_id": f"{sid}-{i}",
                    "station_id": sid,
                    "opt_in": i < n_in,
                    "corrupted": False,
                    "plug_in_utc": pd.Timestamp("2026-10-30T12:00", tz="UTC"),
                    "upload_day": dt.date(2026, 10, 30),
                }
            )
    pd.DataFrame(st).to_parquet(d / "stations.parquet")
    pd.DataFrame(se).to_parquet(d / "sessions.parquet")
    return d


def _publish(root: Path, day: str, sites: list[tuple[str, str, float, str, str | None]]) -> None:
    """sites: (site_id, station, east offset m, status, registry_id)."""
    feats = []
    for site_id, station, east, status, reg in sites:
        lat, lon = _pos(station, east_m=east)
        feats.append(
            {
                "type": "Feature",
                "id": site_id,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "site_id": site_id,
                    "status": status,
                    "sessions": 9,
                    "vehicles": 5,
                    "power_class": "ac",
                    "known": reg is not None,
                    "registry_id": reg,
                },
            }
        )
    (root / day).mkdir(parents=True, exist_ok=True)
    (root / day / "charge_sites.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats})
    )
    (root / "latest.json").write_text(json.dumps({"date": day}))


def test_two_of_three_found_and_a_home_leak(truth, tmp_path):
    """P1 at 3 m, P2 at 4 m, H1 at 2 m -> recall 2/3, precision 2/3, 1 home leak, median 3.5 m."""
    pub = tmp_path / "pub"
    _publish(
        pub,
        DAY1,
        [("a", "P1", 3, "new", "R1"), ("b", "P2", 4, "new", None), ("h", "H1", 2, "new", None)],
    )
    m = evaluate(pub, truth)
    assert m["date"] == DAY1
    assert m["eligible_stations"] == 3
    assert m["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["leaks"] == {"home": 1, "apartment_garage": 0, "workplace": 0}
    assert m["location_error_median_m"] == pytest.approx(3.5, abs=0.05)
    assert m["optout_only_published"] == 0
    assert m["registry_accuracy"] == 1.0
    assert m["targets"]["leaks_private"] is False and m["targets"]["recall"] is False
    assert "recall" in format_table(m)


def test_optout_split_unmatched_and_registry(truth, tmp_path):
    """O1 published, P1 split in two 30 m apart, a site 500 m from anything, P3 wrong registry."""
    pub = tmp_path / "pub"
    _publish(
        pub,
        DAY1,
        [
            ("a", "P1", -15, "new", "R1"),
            ("a2", "P1", 15, "new", None),
            ("o", "O1", 0, "new", None),
            ("x", "P3", 500, "new", None),
            ("c", "P3", 1, "new", "R1"),
        ],
    )
    m = evaluate(pub, truth)
    assert m["optout_only_published"] == 1
    assert m["split_stations"] == 1
    assert m["unmatched_sites"] == 1
    assert m["recall"] == pytest.approx(2 / 3, abs=1e-4)  # P1 and P3
    # registry: a (R1 ok), a2 (null, truth R1: wrong), o (null ok), c (R1, truth R3: wrong)
    assert m["registry_accuracy"] == 0.5


def test_id_stability_and_new_flags(truth, tmp_path):
    """Day 1: P1 'a', P2 'b'. Day 2: P1 'a' (active), P2 'b2' (new), P3 'c' flagged active."""
    pub = tmp_path / "pub"
    _publish(pub, DAY1, [("a", "P1", 0, "new", "R1"), ("b", "P2", 0, "new", None)])
    _publish(
        pub,
        DAY2,
        [
            ("a", "P1", 1, "active", "R1"),
            ("b2", "P2", 0, "new", None),
            ("c", "P3", 0, "active", "R3"),
        ],
    )
    m = evaluate(pub, truth, DAY2)
    assert m["days_compared"] == 1
    assert m["id_stability"] == 0.5  # P1 kept its id, P2 did not
    assert m["new_flag_errors"] == 1  # 'c' is new but flagged active
    assert m["recall"] == 1.0
    m1 = evaluate(pub, truth, DAY1)
    assert m1["days_compared"] == 0 and m1["recall"] == pytest.approx(2 / 3, abs=1e-4)


def test_missing_day_is_an_error(truth, tmp_path):
    pub = tmp_path / "pub"
    _publish(pub, DAY1, [])
    with pytest.raises(ValueError, match="not published"):
        evaluate(pub, truth, DAY2)
    with pytest.raises(FileNotFoundError):
        evaluate(tmp_path / "nothing", truth)


def test_recall_open_leaves_out_stations_one_vehicle_dominates(truth, tmp_path):
    """P3's first vehicle charges there five more times (6 of P3's 10 sessions, > 40 %); only
    P1 and P2 are published. Expected: recall 2/3 over the 3 eligible stations, recall_open
    2/2 over the 2 stations no vehicle dominates."""
    se = pd.read_parquet(truth / "sessions.parquet")
    extra = pd.concat([se[se["vehicle_id"] == "P3-v0"]] * 5, ignore_index=True)
    extra["session_id"] = [f"P3-x{i}" for i in range(5)]
    pd.concat([se, extra], ignore_index=True).to_parquet(truth / "sessions.parquet")
    pub = tmp_path / "pub"
    _publish(pub, DAY1, [("a", "P1", 3, "new", "R1"), ("b", "P2", 4, "new", None)])
    m = evaluate(pub, truth)
    assert m["eligible_stations"] == 3 and m["eligible_open_stations"] == 2
    assert m["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["recall_open"] == 1.0
    assert "no vehicle does > 40% of" in format_table(m)


def test_missed_stations_say_what_is_around_them(truth, tmp_path):
    """Only P2 published (4 m east of it). Expected: P1 and P3 missed; P1's nearest published
    site is 1,004 m away and was matched to P2, which is also P1's nearest other station
    (1,000 m)."""
    pub = tmp_path / "pub"
    _publish(pub, DAY1, [("b", "P2", 4, "new", None)])
    m = evaluate(pub, truth)
    missed = {r["station_id"]: r for r in m["missed_examples"]}
    assert set(missed) == {"P1", "P3"}
    p1 = missed["P1"]
    assert p1["site_m"] == pytest.approx(1004.0, abs=0.5) and p1["site_station"] == "P2"
    assert p1["neighbour"] == "P2" and p1["neighbour_m"] == pytest.approx(1000.0, abs=0.5)
    json.dumps(m)  # JSON-ready


def test_open_station_used_days_ago_shown_stale_is_counted(truth, tmp_path):
    """All stations were last used on 2026-10-30. Day 1: P1 'a', P2 'b', P3 'c', all new.
    Day 2: 'a' stale (P1 is open: wrong), 'b' stale (P2 closed on 2026-11-02: right),
    'c' active.

    Expected: 5 open, recently used stations checked over the two days (P2 only on day 1,
    before it closed), 1 shown stale; no quiet station checked.
    """
    st = pd.read_parquet(truth / "stations.parquet")
    st["closed"] = np.where(st["station_id"] == "P2", dt.date(2026, 11, 2), None)
    st.to_parquet(truth / "stations.parquet")
    pub = tmp_path / "pub"
    first = [("a", "P1", 0, "new", "R1"), ("b", "P2", 0, "new", None), ("c", "P3", 0, "new", "R3")]
    _publish(pub, DAY1, first)
    _publish(
        pub,
        DAY2,
        [
            ("a", "P1", 0, "stale", "R1"),
            ("b", "P2", 0, "stale", None),
            ("c", "P3", 0, "active", "R3"),
        ],
    )
    m = evaluate(pub, truth, DAY2)
    assert (m["in_use_stations_checked"], m["in_use_stations_shown_stale"]) == (5, 1)
    assert m["quiet_stations_checked"] == 0
    row = [r for r in format_table(m).splitlines() if r.startswith("open, used stations")]
    assert row and row[0].split()[-3:] == ["1", "/", "5"]


def test_station_quiet_for_exactly_stale_days_is_not_counted_in_use(truth, tmp_path):
    """All stations were last used on 2026-10-30; 'a' (P1) is shown stale on 2026-11-19 (20
    quiet days) and on 2026-11-20 (21: stale_days, when the contract makes it stale).

    Expected: only the first day counts P1 as an open, used station shown stale (1 / 1); on
    the second it is neither in use nor yet past the quiet check (> stale_days).
    """
    pub = tmp_path / "pub"
    for day in ("2026-11-19", "2026-11-20"):
        _publish(pub, day, [("a", "P1", 0, "stale", "R1")])
    m = evaluate(pub, truth, "2026-11-20")
    assert (m["in_use_stations_checked"], m["in_use_stations_shown_stale"]) == (1, 1)
    assert m["quiet_stations_checked"] == 0
