"""Retention: delete what the pipeline no longer needs, as the privacy note promises.

* raw landing folders older than ``raw_days`` are deleted -- except a folder never ingested
  (no ingest marker: an outage longer than the retention), which is kept and reported, since
  deleting it would lose data nobody has seen;
* quarantine files of those landing days lose the rejected rows' text (``raw`` set to null),
  keeping reason, file and line for the record;
* per-run work folders (they hold every site's precise centroid, excluded homes included) go
  after ``raw_days`` too;
* lake session partitions, their per-(cell, vehicle) deltas (``cells/day=*``), dedup keys,
  excluded-site reviews (coarse cells) and site-history snapshots older than ``lake_days`` are
  deleted. Run reports and ingest markers (counts only)
  are kept.

Every date compared is the one in the path (landing day, session day, run day), never a file's
modification time, so the same lake and ``day`` always delete the same things.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import lake as lk
from pipelines.config import RetentionParams

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


@dataclass
class RetentionResult:
    landing_days_deleted: list[str] = field(default_factory=list)
    #: expired landing days kept because they were never ingested
    landing_days_kept_not_ingested: list[str] = field(default_factory=list)
    quarantine_redacted: list[str] = field(default_factory=list)
    lake_paths_deleted: list[str] = field(default_factory=list)


def cutoff(day: str, days: int) -> str:
    """The oldest day still kept: everything dated before it goes.

    >>> cutoff("2026-11-24", 30)
    '2026-10-26'
    """
    return (dt.date.fromisoformat(day) - dt.timedelta(days=days - 1)).isoformat()


def apply_retention(
    landing: str | Path, lake: str | Path, day: str, params: RetentionParams, window_days: int
) -> RetentionResult:
    """Delete expired raw data and lake partitions as of ``day``.

    Parameters
    ----------
    landing, lake : path
        The landing area and the lake (hold :func:`pipelines.lake.lake_lock` while calling).
    day : str
        ``YYYY-MM-DD``: data dated before ``day - (days - 1)`` expires.
    params : RetentionParams
        ``raw_days`` and ``lake_days``.
    window_days : int
        The clustering window; ``lake_days`` shorter than it is refused (the next run would
        cluster a window with its oldest days missing).

    Returns
    -------
    RetentionResult
        What was deleted, redacted or kept, as sorted lists.
    """
    if params.lake_days < window_days:
        raise ValueError(
            f"retention.lake_days ({params.lake_days}) is shorter than the window ({window_days})"
        )
    result = RetentionResult()
    raw_keep, lake_keep = cutoff(day, params.raw_days), cutoff(day, params.lake_days)

    landing, lake = Path(landing), Path(lake)
    if landing.is_dir():
        for folder in sorted(landing.iterdir()):
            if not (folder.is_dir() and _dated_before(folder.name, raw_keep)):
                continue
            if lk.read_marker(lake, folder.name) is None:
                result.landing_days_kept_not_ingested.append(folder.name)
                continue
            shutil.rmtree(folder)
            result.landing_days_deleted.append(folder.name)

    for path in sorted((lake / "quarantine").glob("landing=*.parquet")):
        if _dated_before(path.name, raw_keep):
            table = pq.read_table(path)
            if table.column("raw").null_count < len(table):
                nulls = pa.nulls(len(table), pa.string())
                lk.write_table(
                    table.set_column(table.schema.get_field_index("raw"), "raw", nulls), path
                )
                result.quarantine_redacted.append(path.name)

    expiring = [
        *((p, lake_keep) for p in (lake / "sessions").glob("day=*")),
        *((p, lake_keep) for p in (lake / "cells").glob("day=*")),  # per (cell, vehicle) deltas
        *((p, lake_keep) for p in (lake / "keys").glob("landing=*.parquet")),
        *((p, raw_keep) for p in (lake / "work").glob("*")),
        *((p, lake_keep) for p in (lake / "excluded").glob("*.parquet")),
        *((p, lake_keep) for p in (lake / "state" / "sites").glob("*.parquet")),
    ]
    for path, keep_from in sorted(expiring):
        if _dated_before(path.name, keep_from):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            result.lake_paths_deleted.append(str(path.relative_to(lake)))
    return result


def _dated_before(name: str, keep_from: str) -> bool:
    m = _DATE.search(name)
    return bool(m) and m.group(1) < keep_from
