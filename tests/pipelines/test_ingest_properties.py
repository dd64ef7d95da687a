"""Property tests: whatever rows or bytes arrive, ingest accounts for every one and leaks nothing.

Invariants checked on arbitrary input (hypothesis):

* nothing raises (a bad file is quarantined, never fatal);
* ``rows_read = accepted + quarantined + duplicate + opted_out``, and for well-formed CSV/JSONL
  ``rows_read`` equals the number of data lines written;
* an opted-out row (``opt_in`` false) is stored nowhere: neither in the sessions nor in the
  quarantine, not even its session id;
* no clear vehicle id is stored: the lake holds HMAC pseudonyms, and quarantined text (parsed
  rows and broken lines alike) never contains a vehicle id. Vehicle ids are drawn as real ones
  look (letters and digits, 8+ characters); a purely numeric id inside a line too broken to
  parse is the one case a redactor cannot tell from a number (see docs/privacy.md).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import lake as lk
from pipelines.config import IngestParams
from pipelines.ingest import ingest_landing_day, parse_landing_bytes, validate
from pipelines.schema import RAW_COLUMNS

pytestmark = pytest.mark.slow  # ~0.4 s per example: a landing day written and ingested

KEY = b"property-key"
DAY = "2026-11-24"
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# strategies: fields good, bad, missing or arbitrary
# ---------------------------------------------------------------------------------------------
VEHICLES = [f"car{n:02d}x{h}" for n, h in enumerate(["9f3a1c", "77b2e0", "0c4d9e", "a1b2c3"])]
_line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    max_size=12,
)
GOOD = {
    "session_id": st.sampled_from(["s1", "s2", "s3", "s4", "s5"]),
    "plug_in_at": st.sampled_from(["2026-11-24T08:00:00+01:00", "2026-11-23T22:10:05Z"]),
    "plug_out_at": st.sampled_from(["2026-11-24T09:30:00+01:00", "2026-11-24T23:59:59-05:00"]),
    "lat": st.floats(-90, 90, allow_nan=False).map(lambda x: f"{x:.6f}"),
    "lon": st.floats(-180, 180, allow_nan=False).map(lambda x: f"{x:.6f}"),
    "energy_kwh": st.floats(0, 200).map(lambda x: f"{x:.2f}"),
    "max_power_kw": st.floats(0.5, 350).map(lambda x: f"{x:.1f}"),
    "connector": st.sampled_from(["ccs", "type2", "CHAdeMO", "nacs"]),
    "soc_start_pct": st.floats(0, 100).map(lambda x: f"{x:.1f}"),
    "soc_end_pct": st.floats(0, 100).map(lambda x: f"{x:.1f}"),
    "gps_accuracy_m": st.floats(0, 500).map(lambda x: f"{x:.1f}"),
    "opt_in": st.sampled_from(["true", "1", "yes", "false", "0", "No"]),
}
BAD = st.sampled_from(
    ["", " ", "nan", "inf", "-1", "0", "1e999", "abc", "2026-11-24T08:00:00", "2999-01-01T00:00Z",
     "91", "-181", "maybe", "null", "\ufeff", "1,5"]
)  # fmt: skip


@st.composite
def rows(draw, max_rows: int = 12) -> list[dict[str, str | None]]:
    """Rows whose every field is good (mostly), bad, missing or arbitrary text."""
    out = []
    for i in range(draw(st.integers(0, max_rows))):
        row: dict[str, str | None] = {"vehicle_id": draw(st.sampled_from(VEHICLES))}
        corrupt = draw(st.booleans())  # half the rows clean, half with any field spoiled
        for col, good in GOOD.items():
            spoiled = st.one_of(good, good, BAD, st.none(), _line_text)
            if col == "opt_in":
                spoiled = st.one_of(good, st.none(), BAD)
            row[col] = draw(spoiled if corrupt else good)
        if corrupt and draw(st.integers(0, 4)) == 0:
            row["vehicle_id"] = draw(st.one_of(BAD, st.none()))
        if row["opt_in"] is not None and row["opt_in"].strip().lower() in {"false", "0", "no"}:
            row["session_id"] = f"OPTOUT{i}q"  # to prove the row is stored nowhere
        out.append(row)
    return out


def to_csv(rs: list[dict], extra_col: bool, broken: set[int]) -> bytes:
    cols = list(RAW_COLUMNS) + (["firmware"] if extra_col else [])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for i, r in enumerate(rs):
        values = [r.get(c) or "" for c in cols]
        w.writerow([*values, "surplus"] if i in broken else values)
    return buf.getvalue().encode("utf-8")


def to_jsonl(rs: list[dict], broken: set[int]) -> bytes:
    lines = []
    for i, r in enumerate(rs):
        text = json.dumps({k: v for k, v in r.items() if v is not None}, ensure_ascii=False)
        lines.append(text[: len(text) // 2] if i in broken else text)
    return ("\n".join(lines) + "\n").encode("utf-8")


def to_parquet(rs: list[dict]) -> bytes:
    table = pa.table({c: pa.array([r.get(c) for r in rs], pa.string()) for c in RAW_COLUMNS})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def ingest_files(files: dict[str, bytes]):
    """Write ``files`` as one landing day, ingest it; returns (counts, sessions, quarantine)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "landing" / DAY
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        lake = Path(tmp) / "lake"
        counts = ingest_landing_day(Path(tmp) / "landing", lake, DAY, KEY, IngestParams())
        sessions = lk.read_sessions(lake, "1900-01-01", "2999-12-31")
        quarantine = pq.read_table(lk.quarantine_path(lake, DAY)).to_pandas()
        return counts, sessions, quarantine


def assert_nothing_leaks(rs: list[dict], sessions: pd.DataFrame, quarantine: pd.DataFrame):
    stored_text = "\n".join(quarantine["raw"].dropna())
    for vid in VEHICLES:
        assert vid not in stored_text, f"clear vehicle id {vid} in quarantine"
        assert not (sessions["vehicle"] == vid).any()
    for r in rs:
        sid = r["session_id"]
        if sid and sid.startswith("OPTOUT"):
            assert sid not in stored_text, f"opted-out row {sid} in quarantine"
            assert not (sessions["session_id"] == sid).any(), f"opted-out row {sid} stored"
    assert sessions["vehicle"].str.fullmatch(r"[0-9a-f]{64}").all()


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------
@SETTINGS
@given(
    rs=rows(),
    extra_col=st.booleans(),
    broken=st.sets(st.integers(0, 11), max_size=3),
    gz=st.booleans(),
    bom=st.booleans(),
)
def test_csv_rows_are_all_accounted_for_and_nothing_leaks(rs, extra_col, broken, gz, bom):
    """Every CSV data line ends in exactly one bin; broken rows (a surplus field) included."""
    data = (b"\xef\xbb\xbf" if bom else b"") + to_csv(rs, extra_col, broken)
    name = "a.csv.gz" if gz else "a.csv"
    counts, sessions, quarantine = ingest_files({name: gzip.compress(data) if gz else data})
    assert counts.balanced()
    assert counts.rows_read == len(rs)
    assert counts.rows_quarantined == len(quarantine)
    assert counts.rows_accepted == len(sessions)
    assert_nothing_leaks(rs, sessions, quarantine)


@SETTINGS
@given(rs=rows(), broken=st.sets(st.integers(0, 11), max_size=3), as_parquet=st.booleans())
def test_jsonl_and_parquet_rows_are_all_accounted_for(rs, broken, as_parquet):
    """The same for JSON lines (some cut in half) and Parquet files of text columns."""
    files = {"b.parquet": to_parquet(rs)} if as_parquet else {"b.jsonl": to_jsonl(rs, broken)}
    counts, sessions, quarantine = ingest_files(files)
    assert counts.balanced()
    assert counts.rows_read == len(rs)
    assert_nothing_leaks(rs, sessions, quarantine)


@SETTINGS
@given(
    blobs=st.lists(
        st.tuples(
            st.sampled_from(["x.csv", "x.csv.gz", "x.jsonl", "x.jsonl.gz", "x.parquet"]),
            st.one_of(
                st.binary(max_size=300),
                rows(4).map(lambda r: to_csv(r, False, set())),
                rows(4).map(lambda r: to_jsonl(r, set())),
                rows(4).map(to_parquet),
                rows(4).map(lambda r: gzip.compress(to_csv(r, False, set()))[:-5]),
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_arbitrary_bytes_never_raise_and_balance(blobs):
    """Random bytes, truncated gzip and formats behind the wrong extension: a day still ingests."""
    files = {f"{i}{name}": data for i, (name, data) in enumerate(blobs)}
    for name, data in files.items():
        raw = parse_landing_bytes(data, name)
        assert raw.unreadable == (len(raw.bad) == 1 and int(raw.bad["line"].iloc[0]) == -1)
    counts, sessions, quarantine = ingest_files(files)
    assert counts.balanced()
    assert counts.files_read == len(files)
    assert counts.rows_accepted == len(sessions)
    assert_nothing_leaks([], sessions, quarantine)


@settings(max_examples=30, deadline=None)
@given(rs=rows(20))
def test_validate_splits_every_record_in_one_bin(rs):
    """validate() alone: accepted + quarantined + opted out = records, reasons never empty."""
    frame = pd.DataFrame(rs, columns=list(RAW_COLUMNS)).astype(object)
    frame = frame.where(frame.notna(), None).assign(line=range(1, len(rs) + 1))
    v = validate(frame, DAY, IngestParams())
    assert len(v.accepted) + len(v.quarantined) + v.opted_out == len(rs)
    assert v.quarantined["reason"].notna().all()
    assert (v.accepted["plug_out_utc"] >= v.accepted["plug_in_utc"]).all()
    assert v.accepted["lat"].between(-90, 90).all() and v.accepted["lon"].between(-180, 180).all()
    assert (v.accepted["energy_kwh"] >= 0).all()
