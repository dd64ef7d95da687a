"""Write a simulation to disk: the landing area (contract §1), registry.csv, truth/ and LAST_DATE.

Byte-identical for the same inputs: CSV/JSON lines are built by hand, gzip members carry no name
and mtime 0, Parquet files carry no timestamps.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.schema import RAW_COLUMNS
from pipelines.sim.corrupt import S, Text


@dataclass(frozen=True)
class Provider:
    """A telematics back end: how its uploads look on disk."""

    name: str
    fmt: str  # csv | jsonl | parquet
    gzip: bool
    columns: tuple[str, ...]
    bom: bool = False
    extra: tuple[tuple[str, str], ...] = ()  # unknown columns and their constant value
    opt_in_words: bool = True  # true/false, else 1/0


_ALL = RAW_COLUMNS
PROVIDERS: tuple[Provider, ...] = (
    Provider("acme", "csv", False, _ALL),
    Provider(
        "bolt",
        "csv",
        True,
        (
            "session_id",
            "vehicle_id",
            "lat",
            "lon",
            "plug_in_at",
            "plug_out_at",
            "energy_kwh",
            "max_power_kw",
            "connector",
            "gps_accuracy_m",
            "opt_in",
        ),
        bom=True,
        extra=(("firmware", "4.2.1"),),
        opt_in_words=False,
    ),
    Provider("cirrus", "jsonl", False, _ALL),
    Provider(
        "drive",
        "jsonl",
        True,
        tuple(c for c in _ALL if c not in ("gps_accuracy_m", "connector")),
        opt_in_words=False,
    ),
    Provider("evlink", "parquet", False, _ALL),
)
NUMERIC = frozenset(
    {"lat", "lon", "energy_kwh", "max_power_kw", "soc_start_pct", "soc_end_pct", "gps_accuracy_m"}
)


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=1) as f:
        f.write(data)
    return buf.getvalue()


def _join_lines(lines: np.ndarray, header: str | None) -> bytes:
    body = "\n".join(([header] if header is not None else []) + lines.tolist())
    return (body + "\n").encode("utf-8")


def _csv_field(t: Text, col: str) -> np.ndarray:
    a = t.values[col]
    q = (np.strings.find(a, ",") >= 0) | (np.strings.find(a, '"') >= 0)
    if q.any():
        a = a.copy()
        a[q] = np.array(['"' + v.replace('"', '""') + '"' for v in a[q]], dtype=S)
    return a


def _csv(p: Provider, t: Text, shape_break: np.ndarray) -> bytes:
    n = len(shape_break)
    cols = list(p.columns) + [e[0] for e in p.extra]
    fields = [_csv_field(t, c) for c in p.columns] + [np.full(n, e[1], dtype=S) for e in p.extra]
    line = fields[0]
    for f in fields[1:-1]:
        line = np.strings.add(np.strings.add(line, ","), f)
    last = np.strings.add(",", fields[-1])
    # a broken row loses its last field (a truncated upload)
    line = np.strings.add(line, np.where(shape_break, np.array("", dtype=S), last))
    data = _join_lines(line, ",".join(cols))
    return ("\ufeff".encode() + data) if p.bom else data


def _json_value(t: Text, col: str) -> np.ndarray:
    a = t.values[col]
    if col in NUMERIC:
        quote = t.non_numeric[col]
    elif col == "opt_in":
        quote = ~np.isin(a, np.array(["true", "false", "1", "0"], dtype=S))
    else:
        quote = np.ones(len(a), dtype=bool)
    out = a.copy()
    if quote.any():
        q = np.strings.add(np.strings.add('"', a[quote]), '"')
        odd = (np.strings.find(a[quote], '"') >= 0) | (np.strings.find(a[quote], "\\") >= 0)
        if odd.any():
            q[odd] = np.array([json.dumps(v) for v in a[quote][odd]], dtype=S)
        out[quote] = q
    out[t.missing[col]] = "null"
    return out


def _jsonl(p: Provider, t: Text, broken: np.ndarray) -> bytes:
    line = None
    for i, c in enumerate(p.columns):
        key = ("{" if i == 0 else ",") + f'"{c}":'
        part = np.strings.add(key, _json_value(t, c))
        line = part if line is None else np.strings.add(line, part)
    line = np.strings.add(line, "}")
    if broken.any():  # a line cut off mid-upload
        cut = np.strings.str_len(line[broken]) // 2
        line[broken] = np.array([s[:k] for s, k in zip(line[broken], cut, strict=True)], dtype=S)
    return _join_lines(line, None)


def _parquet(p: Provider, t: Text) -> bytes:
    arrays, names = [], []
    for c in p.columns:
        a, missing = t.values[c], t.missing[c]
        if c in NUMERIC:
            vals = np.where(missing, "nan", a).astype(np.float64)
            arrays.append(pa.array(vals, mask=missing, type=pa.float64()))
        elif c == "opt_in":
            vals = np.isin(a, np.array(["true", "1"], dtype=S))
            arrays.append(pa.array(vals, mask=missing, type=pa.bool_()))
        else:
            arrays.append(pa.array(a.astype(object), mask=missing, type=pa.string()))
        names.append(c)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=names), buf, compression="snappy")
    return buf.getvalue()


def encode(p: Provider, t: Text, broken: np.ndarray) -> tuple[str, bytes]:
    """File suffix and bytes of one upload file of provider ``p``."""
    if p.fmt == "csv":
        data, suffix = _csv(p, t, broken), ".csv"
    elif p.fmt == "jsonl":
        data, suffix = _jsonl(p, t, broken), ".jsonl"
    else:
        return ".parquet", _parquet(p, t)
    return (suffix + ".gz", _gzip(data)) if p.gzip else (suffix, data)


def write_landing(
    root: Path,
    text: Text,
    broken: np.ndarray,
    provider: np.ndarray,
    upload_day: np.ndarray,
    days: np.ndarray,
    max_rows_per_file: int = 200_000,
) -> int:
    """One folder per day in ``days``; per provider one or more files. Returns files written.

    The rows must be sorted by (``upload_day``, ``provider``): every file is a contiguous slice.
    """
    files = 0
    key = upload_day.astype("datetime64[D]").astype("int64") * len(PROVIDERS) + provider
    if len(key) and np.any(np.diff(key) < 0):
        raise ValueError("rows must be sorted by upload day, then provider")
    for day in days:
        folder = root / str(day)
        folder.mkdir(parents=True, exist_ok=True)
        for pi, p in enumerate(PROVIDERS):
            k = np.datetime64(day, "D").astype("int64") * len(PROVIDERS) + pi
            lo, hi = np.searchsorted(key, k, "left"), np.searchsorted(key, k, "right")
            for part, start in enumerate(range(lo, hi, max_rows_per_file)):
                sl = slice(start, min(start + max_rows_per_file, hi))
                suffix, data = encode(p, text.slice(sl), broken[sl])
                (folder / f"{p.name}-{day}-{part:02d}{suffix}").write_bytes(data)
                files += 1
    return files
