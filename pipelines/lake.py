"""Readers and writers of the lake: the private, date-partitioned Parquet store.

Layout (all under ``<lake>/``)::

    sessions/day=<session day>/landing=<landing day>.parquet   accepted sessions (SESSIONS_SCHEMA)
    quarantine/landing=<landing day>.parquet                    rejected rows with reasons
    keys/landing=<landing day>.parquet                          uint64 dedup keys of accepted rows
    ingested/<landing day>.json                                 ingest marker, written last
    work/<day>/...                                              a run's intermediate tables
    excluded/<day>.parquet                                      excluded sites, coarse cells only
    state/sites/<day>.parquet                                   site identity history per run day
    reports/<day>.json                                          the run report (contract §4)

Every file is written to a temporary name and moved into place, so a killed run never leaves a
half-written file; an ingest marker is written only after all of its landing day's files.
One run at a time holds the lake (:func:`lake_lock`); temporaries a killed run left behind are
swept when the next run takes the lock.

Crash testing: with ``CHARGEPOINTS_CRASH_AT=<point>`` in the environment the process kills
itself with SIGKILL (as ``kill -9`` would) when it reaches that point: ``write:<file name>``
between writing a file's temporary and moving it into place, or a named stage such as
``ingest:sessions`` (see :func:`crash_point`). Unset, the hook costs one dictionary lookup.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.schema import SESSIONS_SCHEMA

#: environment variable naming the point at which to kill the process (crash tests only)
ENV_CRASH_AT = "CHARGEPOINTS_CRASH_AT"
LOCK_NAME = ".lock"


class LakeBusyError(RuntimeError):
    """Another run holds the lake."""


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL here if ``$CHARGEPOINTS_CRASH_AT`` equals ``name``.

    A test hook for the crash tests: no clean-up handler, ``finally`` block or flush runs, just
    as when an operator or the OOM killer sends ``kill -9``.
    """
    if os.environ.get(ENV_CRASH_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# atomic primitives
# ---------------------------------------------------------------------------------------------
def write_table(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write Parquet atomically (zstd, no wall-clock metadata)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    crash_point(f"write:{path.name}")
    os.replace(tmp, path)


def write_json(data: Any, path: str | os.PathLike[str]) -> None:
    """Write sorted, indented JSON atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    crash_point(f"write:{path.name}")
    os.replace(tmp, path)


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


#: lakes this process holds (resolved path -> depth), so that a caller (the CLI) can take the
#: lock before Prefect starts and the flow's own ``lake_lock`` inside it does not trip over it
_HELD: dict[Path, int] = {}
_HELD_GUARD = threading.Lock()


@contextlib.contextmanager
def lake_lock(lake: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the lake exclusively for one run; a second concurrent run fails at once, clearly.

    The lock is an ``flock`` on ``<lake>/.lock``: the kernel releases it when the holder exits,
    however it dies, so a killed run never leaves a stale lock behind. Once the lock is held,
    temporaries a killed run left behind are removed (:func:`sweep_temporaries`). Re-entrant
    within one process: the CLI may hold it around the whole flow, which takes it again.

    Raises
    ------
    LakeBusyError
        Another process holds the lock (the CLI turns this into exit status 3 and one line).
    """
    lake = Path(lake)
    lake.mkdir(parents=True, exist_ok=True)
    key = lake.resolve()
    with _HELD_GUARD:
        if _HELD.get(key):
            _HELD[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key] -= 1
        return
    with (lake / LOCK_NAME).open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LakeBusyError(
                f"another chargepoints run is using the lake {lake} (lock {lake / LOCK_NAME}); "
                "try again when it has finished"
            ) from None
        with _HELD_GUARD:
            _HELD[key] = 1
        try:
            sweep_temporaries(lake)
            yield
        finally:
            with _HELD_GUARD:
                _HELD.pop(key, None)
            fcntl.flock(f, fcntl.LOCK_UN)


def sweep_temporaries(lake: str | os.PathLike[str]) -> list[str]:
    """Delete ``.<name>.tmp`` files a killed writer left in the lake; returns their paths.

    Call only while holding :func:`lake_lock` (no writer can be mid-write then).
    """
    removed = []
    for tmp in sorted(Path(lake).rglob(".*.tmp")):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(str(tmp))
    return removed


# ---------------------------------------------------------------------------------------------
# sessions
# ---------------------------------------------------------------------------------------------
def sessions_path(lake: str | os.PathLike[str], session_day: str, landing_day: str) -> Path:
    return Path(lake) / "sessions" / f"day={session_day}" / f"landing={landing_day}.parquet"


def write_sessions(lake: str | os.PathLike[str], landing_day: str, sessions: pa.Table) -> list[str]:
    """Store one landing day's accepted sessions, one file per session day; returns the days.

    Files an earlier attempt at the same landing day left behind are removed first, so
    re-ingesting a landing day replaces its rows instead of adding them again.
    """
    for old in Path(lake).glob(f"sessions/day=*/landing={landing_day}.parquet"):
        old.unlink()
    days = _session_days(sessions)
    written = []
    for day in sorted(set(days)):
        part = sessions.filter(pa.array(days == day))
        write_table(part, sessions_path(lake, day, landing_day))
        written.append(day)
    return written


def _session_days(sessions: pa.Table) -> Any:
    """The UTC session day (YYYY-MM-DD) of every row, as a numpy array of str."""
    ts = sessions.column("plug_in_utc").to_pandas()
    return ts.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)


def read_sessions(
    lake: str | os.PathLike[str],
    first_day: str,
    last_day: str,
    *,
    max_landing_day: str | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Sessions whose UTC plug-in day is in ``[first_day, last_day]``, in a stable order.

    ``max_landing_day`` leaves out rows that arrived after that upload day, so re-running an
    earlier date sees exactly what that date's run saw.
    """
    files = []
    for folder in sorted((Path(lake) / "sessions").glob("day=*")):
        day = folder.name.removeprefix("day=")
        if not first_day <= day <= last_day:
            continue
        for f in sorted(folder.glob("landing=*.parquet")):
            landing = f.stem.removeprefix("landing=")
            if max_landing_day is None or landing <= max_landing_day:
                files.append(f)
    if not files:
        return SESSIONS_SCHEMA.empty_table().to_pandas()
    table = pa.concat_tables([pq.read_table(f, schema=SESSIONS_SCHEMA) for f in files])
    if columns is not None:
        table = table.select(columns)
    # sorted in Arrow (stable), before strings become Python objects: 3.8x faster than pandas
    # sort_values on 0.5M sessions, same frame
    order = [
        (c, "ascending")
        for c in ("plug_in_utc", "vehicle", "session_id")
        if c in table.column_names
    ]
    return (table.sort_by(order) if order else table).to_pandas()


# ---------------------------------------------------------------------------------------------
# dedup keys and ingest markers
# ---------------------------------------------------------------------------------------------
def keys_path(lake: str | os.PathLike[str], landing_day: str) -> Path:
    return Path(lake) / "keys" / f"landing={landing_day}.parquet"


def read_keys(lake: str | os.PathLike[str], *, exclude_landing_day: str | None = None) -> pa.Array:
    """All dedup keys stored so far, except one landing day's own (for idempotent re-ingest)."""
    files = sorted((Path(lake) / "keys").glob("landing=*.parquet"))
    if exclude_landing_day is not None:
        files = [f for f in files if f != keys_path(lake, exclude_landing_day)]
    if not files:
        return pa.array([], pa.uint64())
    return pa.concat_arrays(
        [pq.read_table(f, columns=["key"]).column("key").combine_chunks() for f in files]
    )


def quarantine_path(lake: str | os.PathLike[str], landing_day: str) -> Path:
    return Path(lake) / "quarantine" / f"landing={landing_day}.parquet"


def marker_path(lake: str | os.PathLike[str], landing_day: str) -> Path:
    return Path(lake) / "ingested" / f"{landing_day}.json"


def read_marker(lake: str | os.PathLike[str], landing_day: str) -> dict[str, Any] | None:
    path = marker_path(lake, landing_day)
    return read_json(path) if path.exists() else None


def landing_days_to_report(lake: str | os.PathLike[str], day: str) -> list[tuple[str, dict]]:
    """(landing day, marker) of ingested days whose counts belong in ``day``'s run report.

    A landing day is reported by the first run that completes after it was ingested, even when
    the run that ingested it died before its report (so no row goes uncounted); a re-run of the
    same date reports the same days again, so it rewrites the same report.
    """
    out = []
    for path in sorted((Path(lake) / "ingested").glob("*.json")):
        landing_day = path.stem
        if landing_day > day:
            continue
        marker = read_json(path)
        if marker.get("reported_in") in (None, day):
            out.append((landing_day, marker))
    return out


def mark_reported(lake: str | os.PathLike[str], landing_days: list[str], day: str) -> None:
    """Record in each ingest marker that ``day``'s report counted it."""
    for landing_day in landing_days:
        marker = read_marker(lake, landing_day)
        if marker is not None and marker.get("reported_in") != day:
            write_json({**marker, "reported_in": day}, marker_path(lake, landing_day))
