"""The lake's failure primitives: the run lock, the crash hook, atomic writes and their sweep.

Expected: a second process is refused at once while the first holds the lake; the same process
may take the lock again (the CLI holds it around the flow); a holder killed with SIGKILL leaves
no stale lock; a write killed between temporary and rename leaves the old file intact and a
temporary that the next lock holder sweeps away.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import lake as lk


def _hold(lake: str, ready, release) -> None:
    with lk.lake_lock(lake):
        ready.set()
        release.wait(30)


def _write_and_crash(path: str) -> None:
    os.environ[lk.ENV_CRASH_AT] = "write:t.parquet"
    lk.write_table(pa.table({"x": [2]}), path)


@pytest.fixture
def ctx():
    return mp.get_context("fork")


def test_second_process_is_refused_and_nesting_is_fine(tmp_path, ctx):
    lake = tmp_path / "lake"
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(lake), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(lk.LakeBusyError, match="another chargepoints run"):
            with lk.lake_lock(lake):
                pass
    finally:
        release.set()
        holder.join(30)
    with lk.lake_lock(lake), lk.lake_lock(lake):  # free again; re-entrant in one process
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, ctx):
    lake = tmp_path / "lake"
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(lake), ready, release))
    holder.start()
    assert ready.wait(30)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join(30)
    assert holder.exitcode == -signal.SIGKILL
    with lk.lake_lock(lake):
        pass


def test_write_killed_before_rename_keeps_the_old_file_and_is_swept(tmp_path, ctx):
    path = tmp_path / "lake" / "sub" / "t.parquet"
    lk.write_table(pa.table({"x": [1]}), path)
    proc = ctx.Process(target=_write_and_crash, args=(str(path),))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    assert pq.read_table(path).column("x").to_pylist() == [1]  # old bytes, whole
    leftover = path.with_name(".t.parquet.tmp")
    assert leftover.exists()
    with lk.lake_lock(tmp_path / "lake"):
        assert not leftover.exists()
    assert pq.read_table(path).column("x").to_pylist() == [1]


def test_crash_point_is_inert_unless_named(monkeypatch):
    monkeypatch.setenv(lk.ENV_CRASH_AT, "somewhere-else")
    lk.crash_point("here")  # still alive
    monkeypatch.delenv(lk.ENV_CRASH_AT)
    lk.crash_point("here")


def _ingest_and_crash(landing: str, lake: str, day: str) -> None:
    from pipelines.config import IngestParams
    from pipelines.ingest import ingest_landing_day

    os.environ[lk.ENV_CRASH_AT] = "ingest:sessions"
    ingest_landing_day(landing, lake, day, b"k" * 16, IngestParams())


def test_killed_reingest_leaves_the_day_pending(tmp_path, ctx):
    """Day ingested with a.csv; b.csv arrives; the re-ingest is killed after the sessions were
    replaced; b.csv is withdrawn again. The day must still be pending (its old marker would
    otherwise vouch for sessions that include b.csv's rows)."""
    from pipelines.config import IngestParams
    from pipelines.ingest import ingest_landing_day, pending_landing_days

    day = "2026-11-24"
    folder = tmp_path / "landing" / day
    folder.mkdir(parents=True)
    header = "vehicle_id,session_id,plug_in_at,plug_out_at,lat,lon,energy_kwh\n"
    row = "car-{0}x1,s{0},2026-11-24T08:00:00Z,2026-11-24T09:00:00Z,42.1,-71.1,5\n"
    (folder / "a.csv").write_text(header + row.format(1))
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    ingest_landing_day(landing, lake, day, b"k" * 16, IngestParams())
    (folder / "b.csv").write_text(header + row.format(2))
    proc = ctx.Process(target=_ingest_and_crash, args=(str(landing), str(lake), day))
    proc.start()
    proc.join(60)
    assert proc.exitcode == -signal.SIGKILL
    (folder / "b.csv").unlink()
    assert pending_landing_days(landing, lake, day) == [day]
    counts = ingest_landing_day(landing, lake, day, b"k" * 16, IngestParams())
    assert counts.rows_accepted == 1
    assert sorted(lk.read_sessions(lake, day, day)["session_id"]) == ["s1"]
