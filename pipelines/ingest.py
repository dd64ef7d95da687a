"""Ingest: raw landing files -> validated, pseudonymised, deduplicated sessions in the lake.

Every record read ends in exactly one of four bins, counted in the run report::

    rows_read = rows_opted_out + rows_quarantined + rows_duplicate + rows_accepted

* **opted out** — ``opt_in`` is false: dropped before anything is stored (not even in quarantine);
* **quarantined** — breaks the contract: kept in ``<lake>/quarantine`` with a reason code, the
  vehicle id replaced by its pseudonym; a file that cannot be read at all (corrupt gzip, wrong
  format behind an extension) is one quarantined record with reason ``unreadable_file``;
* **duplicate** — the same (vehicle, session_id) was accepted before (earlier in the day's files
  or on an earlier landing day);
* **accepted** — stored under ``<lake>/sessions``.

The pure steps (:func:`validate`, :func:`pseudonymise`, :func:`dedup_keys`) take and return
tables; :func:`read_landing_file` and :func:`ingest_landing_day` are the I/O edges.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import gzip
import hashlib
import hmac
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from geo.h3cells import latlng_to_cells
from pipelines import lake as lk
from pipelines.config import IngestParams
from pipelines.schema import (
    CONNECTORS,
    LANDING_SUFFIXES,
    QUARANTINE_SCHEMA,
    RAW_COLUMNS,
    RAW_REQUIRED,
    SESSIONS_SCHEMA,
    Reason,
)

__all__ = [
    "IngestCounts",
    "RawRead",
    "dedup_keys",
    "ingest_landing_day",
    "landing_days",
    "landing_files",
    "pending_landing_days",
    "pseudonymise",
    "read_landing_file",
    "validate",
]

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_WITH_OFFSET = (
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)$"
)
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


# =============================================================================================
# counts
# =============================================================================================
@dataclass
class IngestCounts:
    """What happened to every record of one or more landing days."""

    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_opted_out: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    files_read: int = 0
    files_quarantined: int = 0
    files_ignored: list[str] = field(default_factory=list)

    def add(self, other: IngestCounts) -> IngestCounts:
        for f in dataclasses.fields(self):
            mine = getattr(self, f.name)
            if isinstance(mine, int | list):  # counts add up, ignored file names concatenate
                setattr(self, f.name, mine + getattr(other, f.name))
        for reason, n in other.quarantine_reasons.items():
            self.quarantine_reasons[reason] = self.quarantine_reasons.get(reason, 0) + n
        return self

    def balanced(self) -> bool:
        return self.rows_read == (
            self.rows_accepted + self.rows_quarantined + self.rows_duplicate + self.rows_opted_out
        )

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["quarantine_reasons"] = dict(sorted(self.quarantine_reasons.items()))
        return d


# =============================================================================================
# landing area
# =============================================================================================
def landing_days(landing: str | Path) -> list[str]:
    """The landing day folders (YYYY-MM-DD) present, sorted."""
    root = Path(landing)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _DAY_RE.match(p.name))


def landing_files(folder: str | Path) -> tuple[list[Path], list[Path]]:
    """(files to read, files ignored for their name), both sorted by name."""
    files, ignored = [], []
    for p in sorted(Path(folder).iterdir()):
        if not p.is_file() or p.name.startswith("."):
            continue
        (files if p.name.lower().endswith(LANDING_SUFFIXES) else ignored).append(p)
    return files, ignored


def _fingerprint(files: list[Path]) -> list[list]:
    return [[p.name, p.stat().st_size] for p in files]


def pending_landing_days(landing: str | Path, lake: str | Path, day: str) -> list[str]:
    """Landing days ``<= day`` not ingested yet, or whose files changed since they were."""
    pending = []
    for d in landing_days(landing):
        if d > day:
            continue
        marker = lk.read_marker(lake, d)
        files, _ = landing_files(Path(landing) / d)
        if marker is None or marker.get("files") != _fingerprint(files):
            pending.append(d)
    return pending


# =============================================================================================
# reading: one dispatch point for formats
# =============================================================================================
@dataclass(frozen=True)
class RawRead:
    """One file's records as text columns, plus the records that did not even parse."""

    #: one column per contract column (missing ones all-null) + ``line``; values are str or None
    records: pd.DataFrame
    #: columns line, reason, raw for unparseable lines; or one row (line -1) for an unreadable file
    bad: pd.DataFrame
    unreadable: bool = False
    #: broken lines that still showed ``opt_in`` false: dropped, never stored, only counted
    opted_out: int = 0
    #: bytes read from the file (-1 if not read from a file): the ingest marker's fingerprint
    size: int = -1


def read_landing_file(path: str | Path) -> RawRead:
    """Read any supported landing file as text records, never raising for bad content.

    Reading the bytes is kept apart from parsing them: an ``OSError`` while reading (a storage
    hiccup) propagates so that the flow retries it, and is never blamed on the file; anything
    wrong with the bytes themselves quarantines the file (see :func:`parse_landing_bytes`).
    """
    path = Path(path)
    data = path.read_bytes()
    return dataclasses.replace(parse_landing_bytes(data, path.name), size=len(data))


def parse_landing_bytes(data: bytes, name: str) -> RawRead:
    """Parse one landing file's bytes, choosing the format from ``name``'s suffix.

    Never raises: a file whose bytes cannot be read as the format its name announces (corrupt
    or truncated gzip, another format behind the extension, no contract column in its header,
    undecodable header) is one record with reason ``unreadable_file`` or
    ``file_missing_required_columns``.

    >>> raw = parse_landing_bytes(b"\\x1f\\x8b\\x08 truncated", "a.csv.gz")
    >>> raw.unreadable, raw.bad["reason"].tolist()
    (True, ['unreadable_file'])
    """
    lower = name.lower()
    reader = (
        _read_parquet
        if lower.endswith(".parquet")
        else _read_jsonl
        if lower.endswith((".jsonl", ".jsonl.gz"))
        else _read_csv
    )
    try:
        if lower.endswith(".gz"):
            data = gzip.decompress(data)  # raises on a truncated or corrupt stream: whole file
        _check_magic(data, lower)
        if data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        return reader(data)
    except _WholeFileError as exc:
        return _unreadable(exc.reason, str(exc))
    except Exception as exc:  # any failure to parse is the file's fault: quarantine it whole
        return _unreadable(Reason.BAD_FILE, f"{type(exc).__name__}: {exc}")


class _WholeFileError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _unreadable(reason: str, message: str) -> RawRead:
    bad = pd.DataFrame({"line": [-1], "reason": [reason], "raw": [message[:500]]})
    return RawRead(_empty_records(), bad, unreadable=True)


def _check_magic(data: bytes, lower_name: str) -> None:
    """Refuse bytes of another format behind a misleading extension."""
    if data[:2] == b"\x1f\x8b":
        raise _WholeFileError(Reason.BAD_FILE, "gzip data behind a name without .gz")
    if data[:4] == b"PAR1" and not lower_name.endswith(".parquet"):
        raise _WholeFileError(Reason.BAD_FILE, "Parquet data behind a non-Parquet name")
    if lower_name.endswith(".parquet") and data[:4] != b"PAR1":
        raise _WholeFileError(Reason.BAD_FILE, "not a Parquet file (no PAR1 magic)")


def _undecodable_lines(data: bytes) -> tuple[bytes, list[tuple[int, str]]]:
    """Blank out the lines that are not UTF-8; return the data and (0-based index, text) of each.

    The text is decoded with replacement characters, for the quarantine only.
    """
    try:
        data.decode("utf-8")
        return data, []
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    bad = []
    for i, line in enumerate(lines):  # only files that are not UTF-8: rare, and a loop is clear
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append((i, line.decode("utf-8", errors="replace")))
            lines[i] = b""
    return b"\n".join(lines), bad


def _read_csv(data: bytes) -> RawRead:
    if not data.strip():
        return RawRead(_empty_records(), _empty_bad())
    data, undecodable = _undecodable_lines(data)
    if undecodable and undecodable[0][0] == 0:
        raise _WholeFileError(Reason.BAD_FILE, "the header is not UTF-8")
    header = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    names = [n.strip().lower() for n in next(csv.reader([header]), [])]
    if not set(names) & set(RAW_COLUMNS):
        raise _WholeFileError(
            Reason.MISSING_COLUMNS, f"no contract column in the header ({len(names)} columns)"
        )
    if len(set(names)) != len(names):
        raise _WholeFileError(Reason.BAD_FILE, "duplicate column names in the header")
    bad_lines: list[tuple[int, str]] = []

    def on_bad_row(row) -> str:
        bad_lines.append((row.number if row.number is not None else -1, row.text))
        return "skip"

    table = pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=False),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_bad_row),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
        ),
    )
    shape = pd.DataFrame(bad_lines, columns=["line", "raw"])
    shape["line"] = shape["line"].where(shape["line"] < 0, shape["line"] - 1)  # -> record no.
    shape.insert(1, "reason", Reason.BAD_ROW_SHAPE)
    enc = pd.DataFrame(
        {
            "line": pd.Series([i for i, _ in undecodable], dtype="int64"),
            "reason": Reason.BAD_ENCODING,
            "raw": [t for _, t in undecodable],
        }
    )
    bad = pd.concat([shape, enc], ignore_index=True) if len(enc) else shape
    records = _to_records(table.to_pandas())
    opted_out = _csv_field_is_false(bad["raw"], names)
    bad["raw"] = _redact_csv_lines(bad["raw"], names, records["vehicle_id"])
    if len(bad):  # number the good records around the bad ones, in file order
        numbers = np.arange(1, len(records) + len(bad) + 1)
        records["line"] = np.setdiff1d(numbers, bad["line"].to_numpy())[: len(records)]
    return RawRead(records, bad[~opted_out].reset_index(drop=True), opted_out=int(opted_out.sum()))


#: the JSON fields kept as text (never let the reader infer a timestamp and drop its offset)
_JSON_TEXT = pa.schema(
    [(c, pa.string()) for c in ("vehicle_id", "session_id", "plug_in_at", "plug_out_at")]
)


def _read_jsonl(data: bytes) -> RawRead:
    if not data.strip():
        return RawRead(_empty_records(), _empty_bad())
    if not data.lstrip().startswith(b"{"):
        raise _WholeFileError(Reason.BAD_FILE, "not JSON lines (the first line is no object)")
    try:  # fast path: the whole file is valid JSON lines of consistent types
        table = pajson.read_json(
            pa.py_buffer(data), parse_options=pajson.ParseOptions(explicit_schema=_JSON_TEXT)
        )
        if not any(pa.types.is_timestamp(t) or pa.types.is_nested(t) for t in table.schema.types):
            return RawRead(_to_records(_columns_as_text(table)), _empty_bad())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    return _read_jsonl_lines(data)


def _read_jsonl_lines(data: bytes) -> RawRead:
    """The slow path for files with broken lines: one line at a time (bad files are small)."""
    rows, bad = [], []
    for number, raw_line in enumerate(data.split(b"\n"), start=1):
        if not raw_line.strip():
            continue
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append((number, Reason.BAD_ENCODING, raw_line.decode("utf-8", errors="replace")))
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            bad.append((number, Reason.BAD_JSON, line))
            continue
        rows.append({str(k).strip().lower(): _text(v) for k, v in obj.items()})
    records = _to_records(pd.DataFrame(rows))
    bad = pd.DataFrame(bad, columns=_BAD_COLUMNS)
    opted_out = bad["raw"].str.contains(_JSON_OPTED_OUT, regex=True).to_numpy(dtype=bool)
    bad["raw"] = [_redact_text(_redact_json_text(t), records["vehicle_id"]) for t in bad["raw"]]
    return RawRead(records, bad[~opted_out].reset_index(drop=True), opted_out=int(opted_out.sum()))


_JSON_OPTED_OUT = r'"opt_in"\s*:\s*(?:false|0|"\s*(?:false|0|no|n|f)\s*")'


def _read_parquet(data: bytes) -> RawRead:
    table = pq.read_table(pa.BufferReader(data))
    return RawRead(_to_records(_columns_as_text(table)), _empty_bad())


def _columns_as_text(table: pa.Table) -> pd.DataFrame:
    """Every column as text the validator parses, whatever type the file's writer chose."""
    out = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        key = name.strip().lower()
        if pa.types.is_timestamp(col.type):
            s = col.to_pandas()
            out[key] = (
                s.dt.strftime("%Y-%m-%dT%H:%M:%S%z").where(s.notna(), None)
                if col.type.tz
                else s.astype(str).where(s.notna(), None)  # no offset: quarantined later
            )
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            out[key] = col.to_pandas()
        else:
            out[key] = col.cast(pa.string()).to_pandas()
    return pd.DataFrame(out)


_BAD_COLUMNS = ["line", "reason", "raw"]


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _empty_bad() -> pd.DataFrame:
    return pd.DataFrame({"line": pd.Series([], dtype="int64"), "reason": [], "raw": []})


def _empty_records() -> pd.DataFrame:
    return _to_records(pd.DataFrame())


def _to_records(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the contract's columns (unknown extras ignored), add missing ones as nulls."""
    n = len(df)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    for col in RAW_COLUMNS:
        out[col] = df[col].astype(object).to_numpy() if col in df.columns else None
    out["line"] = np.arange(1, n + 1, dtype=np.int64)
    return out


# =============================================================================================
# validation (pure, vectorized)
# =============================================================================================
@dataclass(frozen=True)
class Validated:
    #: typed accepted rows (vehicle_id still in clear; pseudonymised by the caller)
    accepted: pd.DataFrame
    #: line, reason for every quarantined record (raw text added by the caller)
    quarantined: pd.DataFrame
    #: the records quarantined, as text, aligned with ``quarantined`` (for the raw column)
    quarantined_records: pd.DataFrame
    opted_out: int


def validate(records: pd.DataFrame, landing_day: str, params: IngestParams) -> Validated:
    """Split text records into accepted (typed), quarantined (with reason) and opted-out.

    >>> rec = pd.DataFrame({c: [None, None] for c in RAW_COLUMNS})
    >>> rec.loc[0, list(RAW_REQUIRED)] = ["v1", "s1", "2026-11-24T18:05:12+09:00",
    ...     "2026-11-24T19:05:12+09:00", "35.68", "139.76", "12.5"]
    >>> rec.loc[1, list(RAW_REQUIRED)] = ["v1", "s2", "2026-11-24T18:05:12",
    ...     "2026-11-24T19:05:12+09:00", "35.68", "139.76", "12.5"]
    >>> v = validate(rec.assign(line=[1, 2]), "2026-11-24", IngestParams())
    >>> len(v.accepted), v.quarantined.reason.tolist(), v.opted_out
    (1, ['timestamp_without_offset'], 0)
    >>> int(v.accepted.utc_offset_min.iloc[0])
    540
    """
    text = {c: _clean(records[c]) for c in RAW_COLUMNS}
    opt_in = text["opt_in"].str.lower()
    opted_out = opt_in.isin(_FALSE).to_numpy(dtype=bool)
    reason = np.full(len(records), None, dtype=object)
    free = np.ones(len(records), dtype=bool)  # no reason yet: the first rule that fails wins

    def flag(mask, code: str) -> None:
        hit = np.asarray(mask, dtype=bool) & free
        reason[hit] = code
        free[hit] = False

    flag(opt_in.notna() & ~opt_in.isin(_TRUE | _FALSE), Reason.BAD_OPT_IN)
    for col in RAW_REQUIRED:
        flag(text[col].isna(), Reason.MISSING.format(col))

    times, offsets = {}, {}
    for col in ("plug_in_at", "plug_out_at"):
        s = text[col]
        has_offset = s.str.match(_ISO_WITH_OFFSET, na=False)
        flag(
            s.notna() & ~has_offset & s.str.match(r"^\d{4}-\d{2}-\d{2}[T ]\d", na=False),
            Reason.TIME_NO_OFFSET,
        )
        parsed = pd.to_datetime(s.where(has_offset), utc=True, format="ISO8601", errors="coerce")
        flag(s.notna() & parsed.isna(), Reason.UNPARSEABLE.format(col))
        times[col], offsets[col] = parsed, _offset_minutes(s.where(has_offset))

    nums = {}
    for col in (
        "lat",
        "lon",
        "energy_kwh",
        "max_power_kw",
        "soc_start_pct",
        "soc_end_pct",
        "gps_accuracy_m",
    ):
        nums[col] = _to_float(text[col])
        flag(text[col].notna() & ~np.isfinite(nums[col]), Reason.UNPARSEABLE.format(col))

    lat, lon = nums["lat"], nums["lon"]
    flag(lat.abs() > 90, Reason.LAT_RANGE)
    flag(lon.abs() > 180, Reason.LON_RANGE)
    flag((lat == 0) & (lon == 0), Reason.NULL_ISLAND)
    limit = (
        pd.Timestamp(landing_day, tz="UTC")
        + pd.Timedelta(days=1)
        + pd.Timedelta(hours=params.future_tolerance_hours)
    )
    flag((times["plug_in_at"] > limit) | (times["plug_out_at"] > limit), Reason.TIME_FUTURE)
    flag(times["plug_out_at"] < times["plug_in_at"], Reason.PLUG_OUT_BEFORE_IN)
    flag(nums["energy_kwh"] < 0, Reason.NEGATIVE_ENERGY)
    flag(nums["max_power_kw"] <= 0, Reason.BAD_POWER)
    flag(
        (nums["soc_start_pct"] < 0)
        | (nums["soc_start_pct"] > 100)
        | (nums["soc_end_pct"] < 0)
        | (nums["soc_end_pct"] > 100),
        Reason.BAD_SOC,
    )
    flag(nums["gps_accuracy_m"] < 0, Reason.BAD_ACCURACY)

    bad = ~free & ~opted_out
    ok = free & ~opted_out
    accepted = pd.DataFrame(
        {
            "vehicle_id": text["vehicle_id"][ok].to_numpy(),
            "session_id": text["session_id"][ok].to_numpy(),
            "plug_in_utc": times["plug_in_at"][ok].dt.floor("s").astype("datetime64[s, UTC]"),
            "plug_out_utc": times["plug_out_at"][ok].dt.floor("s").astype("datetime64[s, UTC]"),
            "utc_offset_min": offsets["plug_in_at"][ok].astype("int16"),
            "lat": lat[ok],
            "lon": lon[ok],
            "energy_kwh": nums["energy_kwh"][ok].astype("float32"),
            "max_power_kw": nums["max_power_kw"][ok].astype("float32"),
            "connector": text["connector"][ok].str.lower(),
            "soc_start_pct": nums["soc_start_pct"][ok].astype("float32"),
            "soc_end_pct": nums["soc_end_pct"][ok].astype("float32"),
            "gps_accuracy_m": nums["gps_accuracy_m"][ok].astype("float32"),
        }
    ).reset_index(drop=True)
    quarantined = pd.DataFrame({"line": records["line"][bad].to_numpy(), "reason": reason[bad]})
    return Validated(
        accepted, quarantined, records[bad].reset_index(drop=True), int(opted_out.sum())
    )


def _clean(s: pd.Series) -> pd.Series:
    """Text with surrounding blanks removed; empty -> missing."""
    s = s.astype("string[pyarrow]").str.strip()
    return s.mask(s == "")


_DECIMAL = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"


def _to_float(s: pd.Series) -> pd.Series:
    """Decimal text -> float64, NaN where missing or not a plain decimal (vectorized, Arrow).

    >>> _to_float(pd.Series(["1.5", "-2", ".5e1", "1,5", "nan", "0x1", None],
    ...     dtype="string[pyarrow]")).tolist()
    [1.5, -2.0, 5.0, nan, nan, nan, nan]
    """
    text = pa.array(s.astype("string[pyarrow]").array)
    ok = pc.fill_null(pc.match_substring_regex(text, _DECIMAL), False)
    values = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())
    return pd.Series(values.to_numpy(zero_copy_only=False), index=s.index, dtype="float64")


def _offset_minutes(s: pd.Series) -> pd.Series:
    """Minutes east of UTC of each timestamp's trailing offset; 0 for ``Z`` or none (vectorized).

    >>> _offset_minutes(pd.Series(["2026-11-24T18:05:12+09:00", "2026-11-24T01:00-0530",
    ...     "2026-11-24T01:00:00Z", None], dtype="string[pyarrow]")).tolist()
    [540, -330, 0, 0]
    """
    text = pa.array(s.astype("string[pyarrow]").array)
    m = pc.extract_regex(text, r"(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})?$")

    def number(name: str) -> np.ndarray:
        part = pc.struct_field(m, name)
        part = pc.if_else(pc.equal(part, ""), pa.scalar(None, pa.string()), part)
        return pc.fill_null(pc.cast(part, pa.int64()), 0).to_numpy(zero_copy_only=False)

    negative = pc.fill_null(pc.equal(pc.struct_field(m, "sign"), "-"), False)
    sign = np.where(negative.to_numpy(zero_copy_only=False), -1, 1)
    return pd.Series(sign * (number("hh") * 60 + number("mm")), index=s.index)


# =============================================================================================
# privacy and dedup (pure)
# =============================================================================================
def pseudonymise(vehicle_ids: np.ndarray | pd.Series, key: bytes) -> np.ndarray:
    """HMAC-SHA256 of each vehicle id under ``key``, hex; one hash per distinct id.

    >>> pseudonymise(np.array(["a", "b", "a"]), b"k")[0] == pseudonymise(np.array(["a"]), b"k")[0]
    True
    >>> pseudonymise(np.array([], dtype=object), b"k").shape
    (0,)
    """
    ids = np.asarray(vehicle_ids, dtype=object)
    uniq, inverse = np.unique(ids.astype(str), return_inverse=True)
    hashed = np.array(
        [hmac.new(key, u.encode("utf-8"), hashlib.sha256).hexdigest() for u in uniq], dtype=object
    )
    return hashed[inverse] if len(ids) else np.array([], dtype=object)


def dedup_keys(vehicle: pd.Series, session_id: pd.Series) -> np.ndarray:
    """A 64-bit key per (vehicle pseudonym, session_id) pair (pandas' stable SipHash)."""
    frame = pd.DataFrame({"v": vehicle.to_numpy(), "s": session_id.to_numpy()})
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


# =============================================================================================
# the edge: one landing day
# =============================================================================================
def ingest_landing_day(
    landing: str | Path, lake: str | Path, landing_day: str, key: bytes, params: IngestParams
) -> IngestCounts:
    """Ingest one landing day folder into the lake; idempotent (a re-run replaces its output).

    The day's files are read one by one, then validated together (one vectorized pass), so a
    day of many small files costs about as much as one file. The lake files are written
    atomically and the ingest marker last: a run killed half-way leaves the day pending, and
    the next run ingests it again from scratch.
    """
    folder = Path(landing) / landing_day
    files, ignored = landing_files(folder)
    counts = IngestCounts(files_ignored=[p.name for p in ignored])
    record_parts, bad_parts, fingerprint = [], [], []
    for path in files:
        raw = read_landing_file(path)
        # the size actually read, not the size at the end: a file still growing while it was
        # read no longer matches the marker, so the next run ingests the day again
        fingerprint.append([path.name, raw.size])
        counts.files_read += 1
        counts.files_quarantined += int(raw.unreadable)
        counts.rows_read += len(raw.records) + len(raw.bad) + raw.opted_out
        counts.rows_opted_out += raw.opted_out
        record_parts.append(raw.records.assign(source_file=path.name))
        bad_parts.append(raw.bad.assign(source_file=path.name))
    records = (
        pd.concat(record_parts, ignore_index=True)
        if record_parts
        else _empty_records().assign(source_file=None)
    )
    v = validate(records, landing_day, params)
    counts.rows_opted_out += v.opted_out
    q = v.quarantined.assign(
        raw=_quarantine_text(v.quarantined_records, key),
        source_file=v.quarantined_records["source_file"].to_numpy(),
    )
    q.loc[v.quarantined.reason.eq(Reason.BAD_OPT_IN).to_numpy(), "raw"] = None
    quarantine = pd.concat([q, *bad_parts], ignore_index=True)
    counts.rows_quarantined = len(quarantine)
    counts.quarantine_reasons = {
        str(k): int(n) for k, n in quarantine["reason"].value_counts().sort_index().items()
    }

    sessions = _finish_sessions(v.accepted, landing_day, key, params)
    keys = dedup_keys(sessions["vehicle"], sessions["session_id"])
    seen = np.asarray(lk.read_keys(lake, exclude_landing_day=landing_day))
    dup = pd.Series(keys, dtype="uint64").duplicated().to_numpy() | np.isin(keys, seen)
    counts.rows_duplicate = int(dup.sum())
    sessions, keys = sessions[~dup], keys[~dup]
    counts.rows_accepted = len(sessions)

    table = pa.Table.from_pandas(sessions, schema=SESSIONS_SCHEMA, preserve_index=False)
    # an older marker must not vouch for the half-replaced day should this attempt be killed
    lk.marker_path(lake, landing_day).unlink(missing_ok=True)
    lk.write_sessions(lake, landing_day, table)
    lk.crash_point("ingest:sessions")
    lk.write_table(
        _quarantine_table(quarantine, landing_day), lk.quarantine_path(lake, landing_day)
    )
    lk.write_table(pa.table({"key": pa.array(keys, pa.uint64())}), lk.keys_path(lake, landing_day))
    lk.write_json(
        {"landing_day": landing_day, "files": fingerprint, "counts": counts.as_dict()},
        lk.marker_path(lake, landing_day),
    )
    return counts


def _finish_sessions(
    accepted: pd.DataFrame, landing_day: str, key: bytes, params: IngestParams
) -> pd.DataFrame:
    out = accepted.drop(columns=["vehicle_id"])
    out.insert(0, "vehicle", pseudonymise(accepted["vehicle_id"], key))
    out["cell"] = latlng_to_cells(out["lat"].to_numpy(), out["lon"].to_numpy(), params.cell_res)
    out["landing_day"] = landing_day
    return out


def _quarantine_text(records: pd.DataFrame, key: bytes) -> list[str | None]:
    """The rejected records as JSON text, the vehicle id replaced by its pseudonym."""
    if not len(records):
        return []
    rec = records.drop(columns=["line", "source_file"], errors="ignore")
    vid = rec["vehicle_id"]
    has = vid.notna().to_numpy()
    rec.loc[has, "vehicle_id"] = pseudonymise(vid[has].to_numpy(), key)
    rec = rec.rename(columns={"vehicle_id": "vehicle"})
    buf = io.StringIO()
    rec.to_json(buf, orient="records", lines=True, force_ascii=False)
    # split on "\n" only: str.splitlines() also splits at U+0085/U+2028 inside the values
    return buf.getvalue().rstrip("\n").split("\n")


_REDACTED = "<redacted>"
#: tokens of a broken line kept in quarantine: numbers, dates/times, booleans, column and
#: connector names; every other token (an id, free text) is redacted
_TOKEN = re.compile(r"[^\s,;{}\[\]\"'=:][^\s,;{}\[\]\"'=]*")  # ':' inside a time only
_KEEP = re.compile(
    r"^(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]?\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|true|false|null|none|nan|yes|no|[^A-Za-z0-9]+)$",
    re.IGNORECASE,
)
_KEEP_WORDS = frozenset(RAW_COLUMNS) | CONNECTORS | {_REDACTED}


def _redact_text(text: str, known_ids: pd.Series) -> str:
    """Redact every token of a broken line that could be an identifier.

    A line that broke the table has no trustworthy field positions, so instead of redacting one
    field, everything that is not a number, a date or time, a boolean, or a column or connector
    name is replaced, and so is any vehicle id seen elsewhere in the same file.

    >>> _redact_text('car-17,s9,2026-11-24T18:05:12+09:00,35.6,ccs,true', pd.Series([]))
    '<redacted>,<redacted>,2026-11-24T18:05:12+09:00,35.6,ccs,true'
    >>> _redact_text('{"vehicle_id":"car-17","lat":42.5,"lon', pd.Series([]))
    '{"vehicle_id":"<redacted>","lat":42.5,"lon'
    """
    ids = sorted({i for i in known_ids.dropna().astype(str) if len(i) >= 4}, key=len, reverse=True)
    for vid in ids:  # only for broken lines: few
        text = text.replace(vid, _REDACTED)

    def keep(m: re.Match) -> str:
        tok = m.group()
        return tok if tok.lower() in _KEEP_WORDS or _KEEP.match(tok) else _REDACTED

    return _TOKEN.sub(keep, text)


def _redact_csv_lines(lines: pd.Series, names: list[str], known_ids: pd.Series) -> list[str]:
    """Rows of the wrong shape: the vehicle id position and any identifier-like token redacted."""
    i = names.index("vehicle_id") if "vehicle_id" in names else None
    out = []
    for line in lines:  # only rows that broke the table: few
        fields = next(csv.reader([line]), [])
        if i is not None and len(fields) > i:
            fields[i] = _REDACTED
        out.append(_redact_text(",".join(fields), known_ids))
    return out


def _csv_field_is_false(lines: pd.Series, names: list[str]) -> np.ndarray:
    """Broken CSV lines whose ``opt_in`` field (by header position) says false."""
    if "opt_in" not in names or not len(lines):
        return np.zeros(len(lines), dtype=bool)
    i = names.index("opt_in")
    fields = [next(csv.reader([line]), []) for line in lines]
    return np.array([len(f) > i and f[i].strip().lower() in _FALSE for f in fields], dtype=bool)


def _redact_json_text(line: str) -> str:
    return re.sub(r'("vehicle_id"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}]*)', r'\1"<redacted>"', line)


def _quarantine_table(q: pd.DataFrame, landing_day: str) -> pa.Table:
    df = pd.DataFrame(
        {
            "landing_day": landing_day,
            "source_file": q.get("source_file", pd.Series([], dtype=object)).astype(object),
            "line": q["line"].astype("int64"),
            "reason": q["reason"].astype(object),
            "raw": q["raw"].astype(object),
        }
    )
    return pa.Table.from_pandas(df, schema=QUARANTINE_SCHEMA, preserve_index=False)
