"""Retention on a hand-made lake: what expires goes, what is young or un-ingested stays.

The lake below, as of 2026-11-24 with raw_days=30 (keep from 2026-10-26) and lake_days=90
(keep from 2026-08-27):

* landing 2026-10-01 (ingested) is deleted; 2026-10-02 (never ingested) is kept and reported;
  2026-11-20 is young and kept;
* quarantine of 2026-10-01 loses its rows' text but keeps reason/line; 2026-11-20 keeps text;
* sessions day=2026-08-01 and its cell deltas, keys of 2026-08-01, excluded/2026-08-01,
  state/sites/2026-08-01 are deleted; their 2026-11-20 counterparts stay;
* work/2026-10-01 (precise centroids of every site, homes included) goes at raw_days already;
* reports and ingest markers (counts only) stay.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import lake as lk
from pipelines.config import RetentionParams
from pipelines.retention import apply_retention, cutoff
from pipelines.schema import QUARANTINE_SCHEMA, SESSIONS_SCHEMA

DAY = "2026-11-24"
PARAMS = RetentionParams(raw_days=30, lake_days=90)


def quarantine(day: str) -> pa.Table:
    return pa.Table.from_pylist(
        [{"landing_day": day, "source_file": "a.csv", "line": 3, "reason": "negative_energy",
          "raw": '{"vehicle":"ab12","energy_kwh":"-1"}'}],
        schema=QUARANTINE_SCHEMA,
    )  # fmt: skip


@pytest.fixture
def lake_and_landing(tmp_path) -> tuple[Path, Path]:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    for day in ("2026-10-01", "2026-10-02", "2026-11-20"):
        (landing / day).mkdir(parents=True)
        (landing / day / "a.csv").write_text("vehicle_id,session_id\n")
    for day in ("2026-10-01", "2026-11-20"):  # 2026-10-02 never ingested
        lk.write_json({"landing_day": day, "files": [], "counts": {}}, lk.marker_path(lake, day))
        lk.write_table(quarantine(day), lk.quarantine_path(lake, day))
    (landing / "README.txt").write_text("not a day")
    for day in ("2026-08-01", "2026-11-20"):
        lk.write_table(SESSIONS_SCHEMA.empty_table(), lk.sessions_path(lake, day, day))
        delta = lake / "cells" / f"day={day}" / f"landing={day}.parquet"
        lk.write_table(pa.table({"cell": [1]}), delta)
        lk.write_table(pa.table({"key": pa.array([1], pa.uint64())}), lk.keys_path(lake, day))
        lk.write_table(
            pa.table({"cell": ["88283082a3fffff"]}), lake / "excluded" / f"{day}.parquet"
        )
        lk.write_table(pa.table({"site_id": ["x"]}), lake / "state" / "sites" / f"{day}.parquet")
        lk.write_json({"rows_read": 1}, lake / "reports" / f"{day}.json")
    for day in ("2026-10-01", "2026-11-20"):
        lk.write_table(pa.table({"lat": [42.0]}), lake / "work" / day / "classified.parquet")
    return landing, lake


def test_cutoff_keeps_exactly_n_days():
    assert cutoff(DAY, 1) == DAY
    assert cutoff(DAY, 30) == "2026-10-26"


def test_retention_deletes_redacts_and_keeps(lake_and_landing):
    landing, lake = lake_and_landing
    result = apply_retention(landing, lake, DAY, PARAMS, window_days=90)

    assert result.landing_days_deleted == ["2026-10-01"]
    assert result.landing_days_kept_not_ingested == ["2026-10-02"]
    assert sorted(p.name for p in landing.iterdir()) == ["2026-10-02", "2026-11-20", "README.txt"]

    assert result.quarantine_redacted == ["landing=2026-10-01.parquet"]
    old = pq.read_table(lk.quarantine_path(lake, "2026-10-01")).to_pylist()
    assert old == [{**quarantine("2026-10-01").to_pylist()[0], "raw": None}]
    assert pq.read_table(lk.quarantine_path(lake, "2026-11-20")).column("raw")[0].as_py()

    assert sorted(result.lake_paths_deleted) == [
        "cells/day=2026-08-01",
        "excluded/2026-08-01.parquet",
        "keys/landing=2026-08-01.parquet",
        "sessions/day=2026-08-01",
        "state/sites/2026-08-01.parquet",
        "work/2026-10-01",
    ]
    left = sorted(str(p.relative_to(lake)) for p in lake.rglob("*") if p.is_file())
    assert left == [
        "cells/day=2026-11-20/landing=2026-11-20.parquet",
        "excluded/2026-11-20.parquet",
        "ingested/2026-10-01.json",
        "ingested/2026-11-20.json",
        "keys/landing=2026-11-20.parquet",
        "quarantine/landing=2026-10-01.parquet",
        "quarantine/landing=2026-11-20.parquet",
        "reports/2026-08-01.json",
        "reports/2026-11-20.json",
        "sessions/day=2026-11-20/landing=2026-11-20.parquet",
        "state/sites/2026-11-20.parquet",
        "work/2026-11-20/classified.parquet",
    ]


def test_retention_is_idempotent(lake_and_landing):
    """A second pass (or one after a crash half-way) finds nothing more to do."""
    landing, lake = lake_and_landing
    apply_retention(landing, lake, DAY, PARAMS, window_days=90)
    again = apply_retention(landing, lake, DAY, PARAMS, window_days=90)
    assert (again.landing_days_deleted, again.quarantine_redacted, again.lake_paths_deleted) == (
        [],
        [],
        [],
    )
    assert json.loads((lake / "reports" / "2026-08-01.json").read_text()) == {"rows_read": 1}


def test_retention_shorter_than_the_window_is_refused(lake_and_landing):
    landing, lake = lake_and_landing
    with pytest.raises(ValueError, match="shorter than the window"):
        apply_retention(landing, lake, DAY, RetentionParams(raw_days=30, lake_days=30), 90)
    assert (lake / "sessions" / "day=2026-08-01").exists()  # nothing touched
