"""Render sessions as the text vehicles upload, and break a share of the rows on purpose.

Every column is rendered to a numpy ``StringDType`` array plus a mask of absent fields. Corruptions
edit those strings; row-shape damage (a CSV row with a field too few, a truncated JSON line) is
flagged here and applied by the writer. Each corruption kind maps to the quarantine reason a
correct ingest gives it (:data:`REASONS`), so tests and the evaluation can check the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from pipelines.schema import RAW_COLUMNS

#: corruption kind -> quarantine reason expected from a correct ingest (pipelines.schema.Reason)
REASONS: dict[str, str] = {
    "missing_vehicle_id": "missing_vehicle_id",
    "missing_plug_in_at": "missing_plug_in_at",
    "missing_lat": "missing_lat",
    "missing_energy_kwh": "missing_energy_kwh",
    "unparseable_plug_in_at": "unparseable_plug_in_at",
    "unparseable_lat": "unparseable_lat",
    "unparseable_energy_kwh": "unparseable_energy_kwh",
    "timestamp_without_offset": "timestamp_without_offset",
    "timestamp_in_future": "timestamp_in_future",
    "plug_out_before_plug_in": "plug_out_before_plug_in",
    "lat_out_of_range": "lat_out_of_range",
    "lon_out_of_range": "lon_out_of_range",
    "position_at_0_0": "position_at_0_0",
    "negative_energy": "negative_energy",
    "max_power_not_positive": "max_power_not_positive",
    "soc_out_of_range": "soc_out_of_range",
    "negative_gps_accuracy": "negative_gps_accuracy",
    "unparseable_opt_in": "unparseable_opt_in",
    "wrong_column_count": "wrong_column_count",
    "invalid_json_line": "invalid_json_line",
}
#: kinds that need a text format (a typed Parquet column cannot hold them)
TEXT_ONLY = frozenset(
    {"unparseable_lat", "unparseable_energy_kwh", "unparseable_opt_in", "unparseable_plug_in_at"}
)
CSV_ONLY = frozenset({"wrong_column_count"})
JSON_ONLY = frozenset({"invalid_json_line"})
#: kinds that need an optional column the provider must send
NEEDS_COLUMN = {
    "soc_out_of_range": "soc_end_pct",
    "negative_gps_accuracy": "gps_accuracy_m",
    "max_power_not_positive": "max_power_kw",
    "unparseable_opt_in": "opt_in",
}


def allowed_kinds(fmt: str, columns: tuple[str, ...]) -> list[str]:
    """Corruption kinds possible in a file format (``csv``/``jsonl``/``parquet``) with columns."""
    out = []
    for k in REASONS:
        if k in CSV_ONLY and fmt != "csv":
            continue
        if k in JSON_ONLY and fmt != "jsonl":
            continue
        if k in TEXT_ONLY and fmt == "parquet":
            continue
        if k in NEEDS_COLUMN and NEEDS_COLUMN[k] not in columns:
            continue
        out.append(k)
    return out


S = StringDType()


@dataclass
class Text:
    """Rendered columns: ``values`` (StringDType arrays), ``missing`` and ``non_numeric`` masks.

    ``non_numeric`` marks numeric-column cells whose text is not a number (JSON must quote them).
    """

    values: dict[str, np.ndarray]
    missing: dict[str, np.ndarray]
    non_numeric: dict[str, np.ndarray]

    def slice(self, sl: slice) -> Text:
        """The rows ``sl`` (views, no copy)."""
        return Text(
            {c: a[sl] for c, a in self.values.items()},
            {c: a[sl] for c, a in self.missing.items()},
            {c: a[sl] for c, a in self.non_numeric.items()},
        )


def fixed(x: np.ndarray, decimals: int) -> np.ndarray:
    """``'%.{decimals}f' % x`` for every element, as StringDType (3x faster than np.char.mod)."""
    x = np.asarray(x, dtype=np.float64)
    scale = 10**decimals
    q = np.round(x * scale).astype(np.int64)
    neg = q < 0
    ip, fp = np.divmod(np.abs(q), scale)
    out = np.strings.add(np.where(neg, "-", "").astype(S), ip.astype(S))
    if decimals:
        frac = np.strings.slice((fp + scale).astype(S), 1, None)
        out = np.strings.add(np.strings.add(out, "."), frac)
    return out


def _iso(utc: np.ndarray, off_min: np.ndarray) -> np.ndarray:
    local = utc + off_min.astype("int64").astype("timedelta64[m]")
    base = np.datetime_as_string(local.astype("datetime64[s]"), unit="s").astype(S)
    uniq, inv = np.unique(off_min, return_inverse=True)
    labels = np.array(
        [f"{'+' if o >= 0 else '-'}{abs(int(o)) // 60:02d}:{abs(int(o)) % 60:02d}" for o in uniq],
        dtype=S,
    )
    return np.strings.add(base, labels[inv])


def render(rows: pd.DataFrame, opt_in_words: np.ndarray) -> Text:
    """Text of every contract column for each row.

    ``rows`` needs the columns of :func:`pipelines.sim.sessions.generate_sessions` plus
    ``vehicle_id``, ``session_id`` and ``opt_in``; ``opt_in_words`` is per row True for
    ``true/false`` and False for ``1/0``.
    """
    opt = rows["opt_in"].to_numpy()
    values = {
        "vehicle_id": rows["vehicle_id"].to_numpy().astype(S),
        "session_id": rows["session_id"].to_numpy().astype(S),
        "plug_in_at": _iso(rows["plug_in_utc"].to_numpy(), rows["off_in_min"].to_numpy()),
        "plug_out_at": _iso(rows["plug_out_utc"].to_numpy(), rows["off_out_min"].to_numpy()),
        "lat": fixed(rows["lat"].to_numpy(), 7),
        "lon": fixed(rows["lon"].to_numpy(), 7),
        "energy_kwh": fixed(rows["energy_kwh"].to_numpy(), 2),
        "max_power_kw": fixed(rows["max_power_kw"].to_numpy(), 1),
        "connector": rows["connector"].to_numpy().astype(S),
        "soc_start_pct": fixed(rows["soc_start_pct"].to_numpy(), 1),
        "soc_end_pct": fixed(rows["soc_end_pct"].to_numpy(), 1),
        "gps_accuracy_m": fixed(rows["gps_accuracy_m"].to_numpy(), 1),
        "opt_in": np.where(
            opt_in_words, np.where(opt, "true", "false"), np.where(opt, "1", "0")
        ).astype(S),
    }
    n = len(rows)
    return Text(
        values,
        {c: np.zeros(n, dtype=bool) for c in values},
        {c: np.zeros(n, dtype=bool) for c in values},
    )


def corrupt(text: Text, kinds: np.ndarray, rng: np.random.Generator) -> None:
    """Apply the corruption named in ``kinds`` (object array, None = intact) in place."""
    assert set(RAW_COLUMNS) <= set(text.values)
    for kind in REASONS:
        idx = np.flatnonzero(kinds == kind)
        if len(idx):
            _apply(kind, idx, text, rng)


def _set(t: Text, col: str, idx: np.ndarray, values, non_numeric: bool = False) -> None:
    t.values[col][idx] = np.asarray(values, dtype=S) if not isinstance(values, str) else values
    t.non_numeric[col][idx] = non_numeric


def _apply(kind: str, idx: np.ndarray, t: Text, rng: np.random.Generator) -> None:
    n = len(idx)
    v = t.values
    if kind.startswith("missing_"):
        col = kind.removeprefix("missing_")
        t.missing[col][idx] = True
        v[col][idx] = ""
    elif kind == "unparseable_plug_in_at":
        bad = np.array(["2026-13-45T25:61:00-05:00", "yesterday 18:00", "1761600000"], dtype=S)
        _set(t, "plug_in_at", idx, bad[rng.integers(0, len(bad), n)])
    elif kind == "unparseable_lat":  # a decimal comma
        _set(t, "lat", idx, np.strings.replace(v["lat"][idx], ".", ","), non_numeric=True)
    elif kind == "unparseable_energy_kwh":
        _set(t, "energy_kwh", idx, np.where(rng.random(n) < 0.5, "n/a", "12.3kWh"), True)
    elif kind == "timestamp_without_offset":
        for col in ("plug_in_at", "plug_out_at"):
            _set(t, col, idx, np.strings.slice(v[col][idx], 0, 19))
    elif kind == "timestamp_in_future":  # a unit whose clock jumped a year ahead
        for col in ("plug_in_at", "plug_out_at"):
            year = (np.strings.slice(v[col][idx], 0, 4).astype(np.int64) + 1).astype(S)
            _set(t, col, idx, np.strings.add(year, np.strings.slice(v[col][idx], 4, None)))
    elif kind == "plug_out_before_plug_in":  # the two times swapped
        a, b = v["plug_in_at"][idx].copy(), v["plug_out_at"][idx].copy()
        same = a == b
        _set(t, "plug_in_at", idx, b)
        _set(t, "plug_out_at", idx, a)
        if same.any():  # zero-length session: push plug-in an hour later instead
            later = [s[:11] + f"{(int(s[11:13]) + 1) % 24:02d}" + s[13:] for s in a[same]]
            _set(t, "plug_in_at", idx[same], later)
    elif kind == "lat_out_of_range":
        _set(t, "lat", idx, fixed(rng.choice([-1, 1], n) * rng.uniform(90.5, 400.0, n), 7))
    elif kind == "lon_out_of_range":
        _set(t, "lon", idx, fixed(rng.choice([-1, 1], n) * rng.uniform(180.5, 400.0, n), 7))
    elif kind == "position_at_0_0":
        _set(t, "lat", idx, "0.0")
        _set(t, "lon", idx, "0.0")
    elif kind == "negative_energy":
        _set(t, "energy_kwh", idx, fixed(-rng.uniform(0.1, 50.0, n), 2))
    elif kind == "max_power_not_positive":
        _set(t, "max_power_kw", idx, np.where(rng.random(n) < 0.5, "0.0", "-7.2"))
    elif kind == "soc_out_of_range":
        _set(t, "soc_end_pct", idx, fixed(rng.uniform(101.0, 250.0, n), 1))
    elif kind == "negative_gps_accuracy":
        _set(t, "gps_accuracy_m", idx, fixed(-rng.uniform(1.0, 50.0, n), 1))
    elif kind == "unparseable_opt_in":
        _set(t, "opt_in", idx, np.where(rng.random(n) < 0.5, "maybe", "yes please"))
    # wrong_column_count / invalid_json_line: applied by the writer
