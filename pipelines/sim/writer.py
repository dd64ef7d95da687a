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
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.schema import RAW_COLUMNS


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
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as f:
        f.write(data)
    return buf.getvalue()


def _csv_field(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    out[[v is None for v in out]] = ""
    q = np.array(["," in v or '"' in v for v in out], dtype=bool)
    if q.any():
        out[q] = np.array(['"' + v.replace('"', '""') + '"' for v in out[q]], dtype=object)
    return out


def _csv(p: Provider, t: dict[str, np.ndarray], shape_break: np.ndarray) -> bytes:
    cols = list(p.columns) + [e[0] for e in p.extra]
    fields = [_csv_field(t[c]) for c in p.columns] + [
        np.full(len(shape_break), e[1], dtype=object) for e in p.extra
    ]
    line = fields[0]
    for f in fields[1:-1]:
        line = line + "," + f
    last = "," + fields[-1]
    # a broken row loses its last field (a truncated upload)
    line = line + np.where(shape_break, "", last).astype(object)
    body = "\n".join([",".join(cols), *line.tolist()]) + "\n"
    return (("\ufeff" if p.bom else "") + body).encode("utf-8")


def _json_value(col: str, a: np.ndarray) -> np.ndarray:
    missing = np.array([v is None for v in a], dtype=bool)
    out = np.empty(len(a), dtype=object)
    if col in NUMERIC:
        s = np.where(missing, "0", a).astype(str)
        val = pd.to_numeric(pd.Series(s), errors="coerce").to_numpy(np.float64)
        num = np.isfinite(val)
        out[:] = a
        if (~num).any():
            out[~num] = np.array([json.dumps(v) for v in s[~num]], dtype=object)
    elif col == "opt_in":
        words = {"true": "true", "false": "false", "1": "1", "0": "0"}
        out[:] = [words.get(v, json.dumps(v)) if v is not None else "null" for v in a]
    else:
        out[:] = [json.dumps(v) if v is not None else "null" for v in a]
    out[missing] = "null"
    return out


def _jsonl(p: Provider, t: dict[str, np.ndarray], broken: np.ndarray) -> bytes:
    n = len(broken)
    line = np.full(n, "{", dtype=object)
    for i, c in enumerate(p.columns):
        line = line + ("" if i == 0 else ",") + f'"{c}":' + _json_value(c, t[c])
    line = line + "}"
    if broken.any():  # a line cut off mid-upload
        line[broken] = np.array([s[: len(s) // 2] for s in line[broken]], dtype=object)
    return ("\n".join(line.tolist()) + "\n").encode("utf-8")


def _parquet(p: Provider, t: dict[str, np.ndarray]) -> bytes:
    arrays, names = [], []
    for c in p.columns:
        a = t[c]
        missing = np.array([v is None for v in a], dtype=bool)
        if c in NUMERIC:
            vals = np.where(missing, "nan", a).astype(np.float64)
            arrays.append(pa.array(vals, mask=missing, type=pa.float64()))
        elif c == "opt_in":
            vals = np.isin(np.where(missing, "", a).astype(str), ["true", "1"])
            arrays.append(pa.array(vals, mask=missing, type=pa.bool_()))
        else:
            arrays.append(pa.array(list(a), type=pa.string()))
        names.append(c)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=names), buf, compression="snappy")
    return buf.getvalue()


def encode(p: Provider, t: dict[str, np.ndarray], broken: np.ndarray) -> tuple[str, bytes]:
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
    text: dict[str, np.ndarray],
    broken: np.ndarray,
    provider: np.ndarray,
    upload_day: np.ndarray,
    days: np.ndarray,
    max_rows_per_file: int = 200_000,
) -> int:
    """One folder per day in ``days``; per provider one or more files. Returns files written."""
    files = 0
    order = np.lexsort((provider, upload_day))
    day_s, prov_s = upload_day[order], provider[order]
    for day in days:
        folder = root / str(day)
        folder.mkdir(parents=True, exist_ok=True)
        lo, hi = np.searchsorted(day_s, day, "left"), np.searchsorted(day_s, day, "right")
        for pi, p in enumerate(PROVIDERS):
            sel = order[lo:hi][prov_s[lo:hi] == pi]
            for part, start in enumerate(range(0, len(sel), max_rows_per_file)):
                idx = sel[start : start + max_rows_per_file]
                sub = {c: text[c][idx] for c in text}
                suffix, data = encode(p, sub, broken[idx])
                (folder / f"{p.name}-{day}-{part:02d}{suffix}").write_bytes(data)
                files += 1
    return files
