"""pipelines.cellstate: the incremental daily run equals the reference find_sites, bit for bit.

The fixture lake (``_lake``) holds 14 days of a small fleet around Munich, spread over several
res-5 partitions: six public stations (powers 11-150 kW, varying from session to session, so the
max power of a (cell, vehicle) often expires with its day), 25 homes, scattered noise,
2 % of sessions with 200 m GPS accuracy, and late uploads (20 % land a day later, 5 % two).
Expected answer for every as-of day: exactly ``find_sites`` on ``read_sessions`` of the window
(same sites table, same label for every session).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cluster import dask_mapper
from geo.h3cells import latlng_to_cells
from pipelines import lake as lk
from pipelines.cellstate import find_sites_incremental, update_cell_state
from pipelines.config import ClusterParams
from pipelines.schema import SESSIONS_SCHEMA
from pipelines.sites import find_sites, session_labels

DAY0 = dt.date(2026, 10, 1)
PARAMS = ClusterParams(partition_res=6)


def _fleet(days: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    st = np.c_[48.1 + rng.uniform(-0.15, 0.15, 6), 11.5 + rng.uniform(-0.2, 0.2, 6)]
    homes = np.c_[48.1 + rng.uniform(-0.15, 0.15, 25), 11.5 + rng.uniform(-0.2, 0.2, 25)]
    rows = []
    for d in range(days):
        for i in range(6):
            k = rng.poisson(4)
            rows.append(
                pd.DataFrame(
                    {
                        "vehicle": [f"v{x:02d}" for x in rng.integers(0, 40, k)],
                        "lat": st[i, 0] + rng.normal(0, 6, k) / 111_195,
                        "lon": st[i, 1] + rng.normal(0, 6, k) / 74_000,
                        "max_power_kw": rng.choice([11.0, 50.0, 90.0, 150.0, np.nan], k),
                        "day": d,
                    }
                )
            )
        on = rng.random(25) < 0.6
        rows.append(
            pd.DataFrame(
                {
                    "vehicle": [f"h{x:02d}" for x in np.flatnonzero(on)],
                    "lat": homes[on, 0] + rng.normal(0, 4, on.sum()) / 111_195,
                    "lon": homes[on, 1] + rng.normal(0, 4, on.sum()) / 74_000,
                    "max_power_kw": rng.choice([7.0, 11.0], on.sum()),
                    "day": d,
                }
            )
        )
        rows.append(
            pd.DataFrame(
                {
                    "vehicle": [f"n{d}"] * 3,
                    "lat": 48.1 + rng.uniform(-0.15, 0.15, 3),
                    "lon": 11.5 + rng.uniform(-0.2, 0.2, 3),
                    "max_power_kw": np.nan,
                    "day": d,
                }
            )
        )
    s = pd.concat(rows, ignore_index=True)
    n = len(s)
    start = pd.Timestamp(DAY0, tz="UTC") + pd.to_timedelta(s["day"], unit="D")
    start = start + pd.to_timedelta(rng.integers(0, 86_000, n), unit="s")
    late = rng.choice([0, 1, 2], n, p=[0.75, 0.2, 0.05])
    s = s.assign(
        session_id=[f"s{i}" for i in range(n)],
        plug_in_utc=start,
        plug_out_utc=start + pd.Timedelta(hours=1),
        utc_offset_min=np.int16(60),
        energy_kwh=np.float32(10),
        connector="ccs",
        soc_start_pct=np.float32(20),
        soc_end_pct=np.float32(80),
        gps_accuracy_m=np.where(rng.random(n) < 0.02, 200.0, 5.0).astype(np.float32),
        cell=latlng_to_cells(s["lat"], s["lon"], 13),
        landing_day=[
            (DAY0 + dt.timedelta(days=int(d + x))).isoformat()
            for d, x in zip(s["day"], late, strict=True)
        ],
        max_power_kw=s["max_power_kw"].astype(np.float32),
    )
    return s[list(SESSIONS_SCHEMA.names)]


def _write(lake: str, sessions: pd.DataFrame) -> list[str]:
    landings = sorted(sessions["landing_day"].unique())
    for landing in landings:
        part = sessions[sessions["landing_day"] == landing]
        table = pa.Table.from_pandas(part, schema=SESSIONS_SCHEMA, preserve_index=False)
        lk.write_sessions(lake, landing, table)
    return landings


def _reference(lake: str, day: str, window: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    first = (dt.date.fromisoformat(day) - dt.timedelta(days=window - 1)).isoformat()
    sessions = lk.read_sessions(lake, first, day, max_landing_day=day)
    sites, labels = find_sites(sessions, PARAMS)
    return sessions, sites, labels


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    return _fleet(14)


@pytest.mark.slow
def test_daily_runs_equal_reference(tmp_path: Path, fleet: pd.DataFrame) -> None:
    """Day by day with a 5-day window: days expire, late uploads arrive, max power expires;
    every day equals the reference exactly (sites and session labels)."""
    lake = str(tmp_path / "lake")
    landings = _write(lake, fleet)
    recomputed = 0
    for day in landings[4:14]:
        sites, cell_labels, stats = find_sites_incremental(lake, day, 5, PARAMS)
        sessions, want, want_labels = _reference(lake, day, 5)
        assert len(want) > 10
        pd.testing.assert_frame_equal(sites, want, check_exact=True)
        np.testing.assert_array_equal(session_labels(sessions, PARAMS, cell_labels), want_labels)
        recomputed += stats["pmax_recomputed_rows"]
        assert stats["rebuilt"] == (day == landings[4])
    assert recomputed > 0  # the expiring-max path was exercised


def test_eager_deltas_rerun_and_rebuild_are_identical(tmp_path: Path, fleet: pd.DataFrame) -> None:
    """update_cell_state right after ingest (eager) == deltas made lazily; re-running a day
    gives the same sites; going back to an earlier day rebuilds the state, same answer."""
    lake = str(tmp_path / "lake")
    landings = _write(lake, fleet)
    for landing in landings[:9]:
        update_cell_state(lake, landing, None, PARAMS)
    a, _, _ = find_sites_incremental(lake, landings[8], 5, PARAMS)
    b, _, stats = find_sites_incremental(lake, landings[8], 5, PARAMS)
    assert stats["deltas_added"] == 0 and not stats["rebuilt"]
    assert stats["partitions_clustered"] == 0  # nothing changed: every partition from cache
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    _ = find_sites_incremental(lake, landings[9], 5, PARAMS)
    c, _, stats = find_sites_incremental(lake, landings[8], 5, PARAMS)
    assert stats["rebuilt"]
    pd.testing.assert_frame_equal(a, c, check_exact=True)


def test_window_longer_than_64_days(tmp_path: Path) -> None:
    """Two mask words: a station used on days 0-2 and 66-68, window 70 days. As of day 69 its
    first_seen is day 0; as of day 71 (days 0-1 expired) it is day 2; equal to the reference."""
    s = _fleet(3, seed=1)
    late = s.assign(
        plug_in_utc=s["plug_in_utc"] + pd.Timedelta(days=66),
        plug_out_utc=s["plug_out_utc"] + pd.Timedelta(days=66),
        session_id="late" + s["session_id"],
        landing_day=(pd.to_datetime(s["landing_day"]) + pd.Timedelta(days=66)).dt.strftime(
            "%Y-%m-%d"
        ),
    )
    lake = str(tmp_path / "lake")
    _write(lake, pd.concat([s, late], ignore_index=True))
    for offset in (69, 71):
        day = (DAY0 + dt.timedelta(days=offset)).isoformat()
        sites, _, _ = find_sites_incremental(lake, day, 70, PARAMS)
        pd.testing.assert_frame_equal(sites, _reference(lake, day, 70)[1], check_exact=True)
    assert sites["first_seen"].min() == (DAY0 + dt.timedelta(days=2)).isoformat()


def test_lake_on_fsspec_memory_filesystem(tmp_path: Path, fleet: pd.DataFrame) -> None:
    """The cell state works through fsspec: a lake on memory:// gives the local answer."""
    local = str(tmp_path / "lake")
    _write(local, fleet)
    fs = fsspec.filesystem("memory")
    for f in Path(local, "sessions").rglob("*.parquet"):
        with fs.open(f"/lakeC/{f.relative_to(local)}", "wb") as out:
            pq.write_table(pq.read_table(f), out)
    day = (DAY0 + dt.timedelta(days=9)).isoformat()
    want, _, _ = find_sites_incremental(local, day, 7, PARAMS)
    got, _, _ = find_sites_incremental("memory://lakeC", day, 7, PARAMS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert fs.exists("/lakeC/cells/window/state.parquet")
    fs.rm("/lakeC", recursive=True)


@pytest.mark.slow
def test_partitions_on_dask_equal_sequential(tmp_path: Path, fleet: pd.DataFrame) -> None:
    """Scale-out: the partition batches on a ``distributed.LocalCluster(processes=False)``
    give exactly the sequential answer, for find_sites and for the incremental run."""
    distributed = pytest.importorskip("distributed")
    want, want_labels = find_sites(fleet, PARAMS)
    lake = str(tmp_path / "lake")
    landings = _write(lake, fleet)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got, labels = find_sites(fleet, PARAMS, mapper=dask_mapper(client))
        inc, _, _ = find_sites_incremental(lake, landings[9], 6, PARAMS, dask_mapper(client))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    np.testing.assert_array_equal(labels, want_labels)
    pd.testing.assert_frame_equal(inc, _reference(lake, landings[9], 6)[1], check_exact=True)


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 191), min_size=1, max_size=12),
    days=st.integers(0, 200),
    window=st.integers(1, 192),
)
def test_day_masks_match_python_ints(offsets, days, window) -> None:
    """The multi-word day masks agree with Python big ints: shift by ``days``, clear offsets
    >= window, then the lowest/highest set offsets are the last/first day seen."""
    from pipelines.cellstate import _day_bits, _extreme_offsets, _shift, _words

    n_words = _words(192)
    offs = np.array(offsets, dtype=np.int64)
    mask = np.bitwise_or.reduce(_day_bits(offs, n_words), axis=0)[None, :]
    want = sum(1 << (o + days) for o in set(offsets)) & ((1 << window) - 1)
    got = _shift(mask, days, window)
    assert sum(int(w) << (64 * i) for i, w in enumerate(got[0])) == want
    if want:
        lo, hi = _extreme_offsets(got)
        assert (lo[0], hi[0]) == ((want & -want).bit_length() - 1, want.bit_length() - 1)


def test_changed_micro_res_remakes_deltas(tmp_path: Path, fleet: pd.DataFrame) -> None:
    """Deltas made at micro_res 13 are remade when the run asks for 12: the answer equals the
    reference at 12 (not a mix of resolutions)."""
    lake = str(tmp_path / "lake")
    landings = _write(lake, fleet)
    find_sites_incremental(lake, landings[6], 5, PARAMS)
    coarse = ClusterParams(partition_res=6, micro_res=12)
    got, _, stats = find_sites_incremental(lake, landings[7], 5, coarse)
    assert stats["rebuilt"]
    first = (dt.date.fromisoformat(landings[7]) - dt.timedelta(days=4)).isoformat()
    sessions = lk.read_sessions(lake, first, landings[7], max_landing_day=landings[7])
    pd.testing.assert_frame_equal(got, find_sites(sessions, coarse)[0], check_exact=True)
