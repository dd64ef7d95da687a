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
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from geo.h3cells import latlng_to_cells
from pipelines import lake as lk
from pipelines.config import IngestParams
from pipelines.schema import (
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
        for name in ("rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rows_opted_out += other.rows_opted_out
        self.files_read += other.files_read
        self.files_quarantined += other.files_quarantined
        self.files_ignored += other.files_ignored
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


def read_landing_file(path: str | Path) -> RawRead:
    """Read any supported landing file as text records, never raising for bad content."""
    path = Path(path)
    name = path.name.lower()
    reader = (
        _read_parquet
        if name.endswith(".parquet")
        else _read_jsonl
        if name.endswith((".jsonl", ".jsonl.gz"))
        else _read_csv
    )
    try:
        return reader(path)
    except Exception as exc:  # any failure to read is the file's fault: quarantine it
        bad = pd.DataFrame(
            {"line": [-1], "reason": [Reason.BAD_FILE], "raw": [f"{type(exc).__name__}: {exc}"]}
        )
        return RawRead(_empty_records(), bad, unreadable=True)


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)  # raises on a truncated or corrupt stream: whole file bad
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    return data


def _read_csv(path: Path) -> RawRead:
    data = _read_bytes(path)
    if not data.strip():
        return RawRead(_empty_records(), _empty_bad())
    header = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    names = [n.strip().lower() for n in next(csv.reader([header]))]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column names in header: {header!r}")
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
    bad = pd.DataFrame(bad_lines, columns=["line", "raw"])
    bad["line"] = bad["line"].where(bad["line"] < 0, bad["line"] - 1)  # file line -> record no.
    bad.insert(1, "reason", Reason.BAD_ROW_SHAPE)
    bad["raw"] = _redact_csv_lines(bad["raw"], names)
    records = _to_records(table.to_pandas())
    if len(bad):  # number the good records around the bad ones, in file order
        numbers = np.arange(1, len(records) + len(bad) + 1)
        records["line"] = np.setdiff1d(numbers, bad["line"].to_numpy())[: len(records)]
    return RawRead(records, bad)


def _read_jsonl(path: Path) -> RawRead:
    data = _read_bytes(path)
    if not data.strip():
        return RawRead(_empty_records(), _empty_bad())
    try:  # fast path: the whole file is valid JSON lines
        table = pajson.read_json(pa.py_buffer(data))
        return RawRead(_to_records(_columns_as_text(table)), _empty_bad())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    rows, bad = [], []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            bad.append((number, Reason.BAD_JSON, _redact_json_text(line)))
            continue
        rows.append({str(k).strip().lower(): _text(v) for k, v in obj.items()})
    return RawRead(_to_records(pd.DataFrame(rows)), pd.DataFrame(bad, columns=_BAD_COLUMNS))


def _read_parquet(path: Path) -> RawRead:
    table = pq.read_table(path)
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
    opted_out = opt_in.isin(_FALSE).to_numpy()
    reason = pd.Series(pd.NA, index=records.index, dtype="object")

    def flag(mask, code: str) -> None:
        nonlocal reason
        mask = np.asarray(mask, dtype=bool) & reason.isna().to_numpy()
        reason = reason.mask(mask, code)

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
        nums[col] = pd.to_numeric(text[col], errors="coerce").astype("float64")
        flag(
            text[col].notna() & ~np.isfinite(nums[col].fillna(np.inf))
            | (text[col].notna() & nums[col].isna()),
            Reason.UNPARSEABLE.format(col),
        )

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

    bad = reason.notna().to_numpy() & ~opted_out
    ok = ~bad & ~opted_out
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
    quarantined = pd.DataFrame(
        {"line": records["line"][bad].to_numpy(), "reason": reason[bad].to_numpy()}
    )
    return Validated(
        accepted, quarantined, records[bad].reset_index(drop=True), int(opted_out.sum())
    )


def _clean(s: pd.Series) -> pd.Series:
    """Text with surrounding blanks removed; empty -> missing."""
    s = s.astype("string").str.strip()
    return s.mask(s == "")


def _offset_minutes(s: pd.Series) -> pd.Series:
    m = s.str.extract(r"(Z|([+-])(\d{2}):?(\d{2})?)$")
    sign = np.where((m[1] == "-").fillna(False).to_numpy(dtype=bool), -1, 1)
    minutes = pd.to_numeric(m[2], errors="coerce").fillna(0) * 60 + pd.to_numeric(
        m[3], errors="coerce"
    ).fillna(0)
    return pd.Series(sign * minutes, index=s.index)


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
    """Ingest one landing day folder into the lake; idempotent (a re-run replaces its output)."""
    folder = Path(landing) / landing_day
    files, ignored = landing_files(folder)
    counts = IngestCounts(files_ignored=[p.name for p in ignored])
    accepted_parts, quarantine_parts = [], []
    for path in files:
        raw = read_landing_file(path)
        counts.files_read += 1
        counts.files_quarantined += int(raw.unreadable)
        v = validate(raw.records, landing_day, params)
        q = v.quarantined.assign(raw=_quarantine_text(v.quarantined_records, key))
        q.loc[v.quarantined.reason.eq(Reason.BAD_OPT_IN).to_numpy(), "raw"] = None
        q = pd.concat([q, raw.bad], ignore_index=True) if len(raw.bad) else q
        quarantine_parts.append(q.assign(source_file=path.name))
        accepted_parts.append(v.accepted)
        counts.rows_read += len(raw.records) + len(raw.bad)
        counts.rows_opted_out += v.opted_out
    accepted = pd.concat(accepted_parts, ignore_index=True) if accepted_parts else None
    quarantine = (
        pd.concat(quarantine_parts, ignore_index=True) if quarantine_parts else _empty_bad()
    )
    counts.rows_quarantined = len(quarantine)
    counts.quarantine_reasons = quarantine["reason"].value_counts().sort_index().to_dict()

    sessions = (
        _finish_sessions(accepted, landing_day, key, params) if accepted is not None else None
    )
    if sessions is not None and len(sessions):
        keys = dedup_keys(sessions["vehicle"], sessions["session_id"])
        seen = np.asarray(lk.read_keys(lake, exclude_landing_day=landing_day))
        dup = pd.Series(keys).duplicated().to_numpy() | np.isin(keys, seen)
        counts.rows_duplicate = int(dup.sum())
        sessions, keys = sessions[~dup], keys[~dup]
    else:
        keys = np.array([], dtype=np.uint64)
    counts.rows_accepted = 0 if sessions is None else len(sessions)

    table = (
        pa.Table.from_pandas(sessions, schema=SESSIONS_SCHEMA, preserve_index=False)
        if sessions is not None
        else SESSIONS_SCHEMA.empty_table()
    )
    lk.write_sessions(lake, landing_day, table)
    lk.write_table(
        _quarantine_table(quarantine, landing_day), lk.quarantine_path(lake, landing_day)
    )
    lk.write_table(pa.table({"key": pa.array(keys, pa.uint64())}), lk.keys_path(lake, landing_day))
    lk.write_json(
        {"landing_day": landing_day, "files": _fingerprint(files), "counts": counts.as_dict()},
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
    rec = records.drop(columns=["line"]).copy()
    vid = rec["vehicle_id"]
    has = vid.notna().to_numpy()
    rec.loc[has, "vehicle_id"] = pseudonymise(vid[has].to_numpy(), key)
    rec = rec.rename(columns={"vehicle_id": "vehicle"})
    buf = io.StringIO()
    rec.to_json(buf, orient="records", lines=True, force_ascii=False)
    return buf.getvalue().splitlines()


def _redact_csv_lines(lines: pd.Series, names: list[str]) -> list[str]:
    """Drop the vehicle id field from raw CSV lines of the wrong shape (its position is unsure)."""
    if "vehicle_id" not in names or not len(lines):
        return lines.tolist()
    i = names.index("vehicle_id")
    out = []
    for line in lines:  # only rows that broke the table: few
        fields = next(csv.reader([line]), [])
        if len(fields) > i:
            fields[i] = "<redacted>"
        out.append(",".join(fields))
    return out


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
