"""Retention: delete what the pipeline no longer needs, as the privacy note promises.

* raw landing folders older than ``raw_days`` are deleted;
* quarantine files of those landing days lose the rejected rows' text (``raw`` set to null),
  keeping reason, file and line for the record;
* lake session partitions, dedup keys, work folders, excluded-site reviews and site-history
  snapshots older than ``lake_days`` are deleted. Run reports (counts only) are kept.
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
    """Delete expired raw data and lake partitions as of ``day``."""
    if params.lake_days < window_days:
        raise ValueError(
            f"retention.lake_days ({params.lake_days}) is shorter than the window ({window_days})"
        )
    result = RetentionResult()
    raw_keep, lake_keep = cutoff(day, params.raw_days), cutoff(day, params.lake_days)

    landing = Path(landing)
    if landing.is_dir():
        for folder in sorted(landing.iterdir()):
            if folder.is_dir() and _dated_before(folder.name, raw_keep):
                shutil.rmtree(folder)
                result.landing_days_deleted.append(folder.name)

    lake = Path(lake)
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
        *(lake / "sessions").glob("day=*"),
        *(lake / "keys").glob("landing=*.parquet"),
        *(lake / "work").glob("*"),
        *(lake / "excluded").glob("*.parquet"),
        *(lake / "state" / "sites").glob("*.parquet"),
    ]
    for path in sorted(expiring):
        if _dated_before(path.name, lake_keep):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
            result.lake_paths_deleted.append(str(path.relative_to(lake)))
    return result


def _dated_before(name: str, keep_from: str) -> bool:
    m = _DATE.search(name)
    return bool(m) and m.group(1) < keep_from
