"""Ingest: every record read is accepted, quarantined with a reason, duplicate or opted out."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines import lake as lk
from pipelines.config import IngestParams
from pipelines.ingest import (
    ingest_landing_day,
    pending_landing_days,
    pseudonymise,
    read_landing_file,
    validate,
)
from pipelines.schema import RAW_COLUMNS

KEY = b"test-key"
DAY = "2026-11-24"
HEADER = "vehicle_id,session_id,plug_in_at,plug_out_at,lat,lon,energy_kwh,max_power_kw,opt_in"


def good(vid: str = "v1", sid: str = "s1", **over) -> dict:
    row = {
        "vehicle_id": vid,
        "session_id": sid,
        "plug_in_at": "2026-11-24T18:05:12+09:00",
        "plug_out_at": "2026-11-24T19:35:00+09:00",
        "lat": "35.681",
        "lon": "139.767",
        "energy_kwh": "12.5",
        "max_power_kw": "50",
        "opt_in": "true",
    }
    row.update(over)
    return row


def csv_text(rows: list[dict], header: str = HEADER) -> str:
    cols = header.split(",")
    return header + "\n" + "\n".join(",".join(r.get(c, "") for c in cols) for r in rows) + "\n"


def landing_day(tmp_path: Path, files: dict[str, bytes | str], day: str = DAY) -> Path:
    folder = tmp_path / "landing" / day
    folder.mkdir(parents=True)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return tmp_path / "landing"


def records(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows).reindex(columns=list(RAW_COLUMNS))
    return df.astype(object).where(df.notna(), None).assign(line=range(1, len(rows) + 1))


# ----------------------------------------------------------------------------------------------
# validate: one bad field -> one reason
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"vehicle_id": ""}, "missing_vehicle_id"),
        ({"vehicle_id": "   "}, "missing_vehicle_id"),
        ({"lat": "abc"}, "unparseable_lat"),
        ({"lat": "91"}, "lat_out_of_range"),
        ({"lon": "-180.5"}, "lon_out_of_range"),
        ({"lat": "0", "lon": "0"}, "position_at_0_0"),
        ({"lat": "nan"}, "unparseable_lat"),
        ({"plug_in_at": "2026-11-24T18:05:12"}, "timestamp_without_offset"),
        ({"plug_in_at": "yesterday"}, "unparseable_plug_in_at"),
        ({"plug_out_at": "2026-11-24T17:00:00+09:00"}, "plug_out_before_plug_in"),
        (
            {"plug_in_at": "2026-12-24T18:05:12+09:00", "plug_out_at": "2026-12-24T19:05:12+09:00"},
            "timestamp_in_future",
        ),
        ({"energy_kwh": "-1"}, "negative_energy"),
        ({"max_power_kw": "0"}, "max_power_not_positive"),
        ({"opt_in": "maybe"}, "unparseable_opt_in"),
    ],
)
def test_validate_one_reason_per_bad_row(override, reason):
    """A good row and a row with one broken field: 1 accepted, 1 quarantined with ``reason``."""
    v = validate(records([good(), good("v2", **override)]), DAY, IngestParams())
    assert len(v.accepted) == 1
    assert v.quarantined["reason"].tolist() == [reason]
    assert v.quarantined["line"].tolist() == [2]


def test_validate_types_offsets_and_optional_columns():
    """Offsets kept as minutes east of UTC; 'Z' is 0; missing optional columns are NaN/None."""
    rows = [
        good(),
        good("v2", plug_in_at="2026-11-24T10:00:00Z", plug_out_at="2026-11-24T10:30:00Z"),
        good(
            "v3",
            plug_in_at="2026-11-24T10:00:00-05:00",
            plug_out_at="2026-11-24T11:00:00-0500",
            max_power_kw=None,
            opt_in=None,
        ),
    ]
    v = validate(records(rows), DAY, IngestParams())
    a = v.accepted
    assert a["utc_offset_min"].tolist() == [540, 0, -300]
    assert str(a["plug_in_utc"].iloc[0]) == "2026-11-24 09:05:12+00:00"
    assert str(a["plug_out_utc"].iloc[2]) == "2026-11-24 16:00:00+00:00"
    assert a["max_power_kw"].isna().tolist() == [False, False, True]
    assert a["connector"].isna().all()


def test_opted_out_rows_are_counted_and_never_quarantined():
    """opt_in false/0/no is dropped even when the rest of the row is broken (nothing stored)."""
    rows = [good(opt_in="false"), good("v2", opt_in="0", lat="x"), good("v3", opt_in="No")]
    v = validate(records(rows), DAY, IngestParams())
    assert (len(v.accepted), len(v.quarantined), v.opted_out) == (0, 0, 3)


def test_pseudonymise_is_keyed_and_stable():
    a = pseudonymise(pd.Series(["car-1", "car-2", "car-1"]), KEY)
    assert a[0] == a[2] != a[1]
    assert len(a[0]) == 64 and "car-1" not in a[0]
    assert pseudonymise(pd.Series(["car-1"]), b"other")[0] != a[0]


# ----------------------------------------------------------------------------------------------
# reading files
# ----------------------------------------------------------------------------------------------
def test_read_formats_give_the_same_records(tmp_path):
    """The same two rows as CSV (with BOM and an extra column), CSV.gz, JSONL(.gz), Parquet."""
    rows = [good(), good("v2", "s2", lat="42.36", lon="-71.06")]
    text = csv_text([{**r, "extra": "x"} for r in rows], HEADER + ",extra")
    jsonl = "".join(json.dumps(r) + "\n" for r in rows)
    files = {
        "a.csv": "\ufeff" + text,
        "b.csv.gz": gzip.compress(text.encode()),
        "c.jsonl": jsonl,
        "d.jsonl.gz": gzip.compress(jsonl.encode()),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "e.parquet")
    for name in [*files, "e.parquet"]:
        raw = read_landing_file(tmp_path / name)
        assert not raw.unreadable, name
        assert raw.records["vehicle_id"].tolist() == ["v1", "v2"], name
        assert raw.records["lat"].astype(float).tolist() == [35.681, 42.36], name
        assert raw.records["connector"].isna().all(), name


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("truncated.csv.gz", gzip.compress(HEADER.encode() * 50 + bytes(range(256)) * 20)[:60]),
        ("notgzip.jsonl.gz", b"plain text, not gzip"),
        ("csv-in-disguise.parquet", b"vehicle_id,session_id\nv1,s1\n"),
        ("binary.csv", b"PAR1\x00\x01\xff\xfe garbage"),
    ],
)
def test_unreadable_file_is_one_quarantined_record(name, content, tmp_path):
    (tmp_path / name).write_bytes(content)
    raw = read_landing_file(tmp_path / name)
    assert raw.unreadable
    assert raw.bad["reason"].tolist() == ["unreadable_file"]
    assert len(raw.records) == 0


def test_csv_rows_of_wrong_shape_are_quarantined_with_their_line(tmp_path):
    """Rows 2 (too few fields) and 3 (too many) are bad; rows 1 and 4 survive, numbered 1 and 4."""
    text = csv_text([good()]) + "v2,s2,2026\n" + csv_text([good("v3")]).split("\n")[1] + ",x\n"
    text += csv_text([good("v4")]).split("\n")[1] + "\n"
    (tmp_path / "a.csv").write_text(text)
    raw = read_landing_file(tmp_path / "a.csv")
    assert raw.bad["line"].tolist() == [2, 3]
    assert set(raw.bad["reason"]) == {"wrong_column_count"}
    assert raw.records["line"].tolist() == [1, 4]
    assert "v2" not in raw.bad["raw"].iloc[0]  # the vehicle id is redacted


def test_empty_and_header_only_files_are_fine(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text(HEADER + "\n")
    (tmp_path / "empty.jsonl").write_text("\n")
    for name in ("empty.csv", "header.csv", "empty.jsonl"):
        raw = read_landing_file(tmp_path / name)
        assert (len(raw.records), len(raw.bad), raw.unreadable) == (0, 0, False)


# ----------------------------------------------------------------------------------------------
# a landing day end to end
# ----------------------------------------------------------------------------------------------
def test_ingest_landing_day_accounts_for_every_row(tmp_path):
    """12 records: 5 accepted, 1 in-file duplicate, 1 opted out, 2 invalid, 1 bad JSON line,
    1 wrong-shape CSV row, 1 unreadable file; notes.txt is ignored by name."""
    rows = [good(sid=f"s{i}") for i in range(4)] + [good(sid="s0")]  # s0 twice
    rows += [good("v9", opt_in="false"), good("v8", lat="95"), good("v7", energy_kwh="-3")]
    landing = landing_day(
        tmp_path,
        {
            "a.csv": csv_text(rows) + "v6,s1\n",
            "b.jsonl": json.dumps(good("v5")) + "\n{not json\n",
            "c.csv.gz": b"\x1f\x8b broken",
            "notes.txt": "not data",
        },
    )
    counts = ingest_landing_day(landing, tmp_path / "lake", DAY, KEY, IngestParams())
    assert counts.rows_read == 12
    assert (counts.rows_accepted, counts.rows_duplicate, counts.rows_opted_out) == (5, 1, 1)
    assert counts.rows_quarantined == 5
    assert counts.quarantine_reasons == {
        "invalid_json_line": 1,
        "lat_out_of_range": 1,
        "negative_energy": 1,
        "unreadable_file": 1,
        "wrong_column_count": 1,
    }
    assert counts.balanced()
    assert counts.files_ignored == ["notes.txt"]

    sessions = lk.read_sessions(tmp_path / "lake", DAY, DAY)
    assert len(sessions) == 5
    assert not sessions["vehicle"].isin(["v1", "v5"]).any()  # pseudonymised
    assert sessions["cell"].dtype == "uint64" and (sessions["cell"] > 0).all()
    q = pq.read_table(lk.quarantine_path(tmp_path / "lake", DAY)).to_pandas()
    assert len(q) == 5
    assert not q["raw"].str.contains('"v8"|"v7"', regex=True, na=False).any()
    assert not q["raw"].str.contains("v9", na=False).any()  # opted-out row stored nowhere


def test_ingest_is_idempotent_and_dedups_across_days(tmp_path):
    """Day 1 has s1, s2; day 2 re-sends s2 and adds s3. Re-ingesting day 2 changes nothing."""
    landing = landing_day(
        tmp_path, {"a.csv": csv_text([good(sid="s1"), good(sid="s2")])}, "2026-11-23"
    )
    landing_day(tmp_path, {"a.csv": csv_text([good(sid="s2"), good(sid="s3")])}, DAY)
    lake = tmp_path / "lake"
    assert pending_landing_days(landing, lake, DAY) == ["2026-11-23", DAY]
    c1 = ingest_landing_day(landing, lake, "2026-11-23", KEY, IngestParams())
    c2 = ingest_landing_day(landing, lake, DAY, KEY, IngestParams())
    assert (c1.rows_accepted, c2.rows_accepted, c2.rows_duplicate) == (2, 1, 1)
    assert pending_landing_days(landing, lake, DAY) == []
    again = ingest_landing_day(landing, lake, DAY, KEY, IngestParams())
    assert again.as_dict() == c2.as_dict()
    sessions = lk.read_sessions(lake, "2026-11-01", "2026-11-30")
    assert sorted(sessions["session_id"]) == ["s1", "s2", "s3"]
    # a file added to an already ingested day makes it pending again
    (landing / DAY / "late.csv").write_text(csv_text([good(sid="s4")]))
    assert pending_landing_days(landing, lake, DAY) == [DAY]


def test_a_file_still_growing_while_read_is_ingested_again(tmp_path, monkeypatch):
    """An upload that completes after ingest read it: the marker holds the size actually read,
    so the day stays pending and the next run picks up the rows that arrived late."""
    from pipelines import ingest

    landing = landing_day(tmp_path, {"a.csv": csv_text([good(sid="s1")])})
    real = ingest.read_landing_file

    def read_then_grow(path):
        raw = real(path)
        with open(path, "a") as f:  # the rest of the upload lands after the read
            f.write(csv_text([good(sid="s2")]).split("\n", 1)[1])
        return raw

    monkeypatch.setattr(ingest, "read_landing_file", read_then_grow)
    first = ingest_landing_day(landing, tmp_path / "lake", DAY, KEY, IngestParams())
    assert first.rows_accepted == 1
    assert pending_landing_days(landing, tmp_path / "lake", DAY) == [DAY]
    monkeypatch.setattr(ingest, "read_landing_file", real)
    again = ingest_landing_day(landing, tmp_path / "lake", DAY, KEY, IngestParams())
    assert (again.rows_read, again.rows_accepted) == (2, 2)
    assert pending_landing_days(landing, tmp_path / "lake", DAY) == []
