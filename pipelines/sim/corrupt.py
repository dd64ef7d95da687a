"""Render sessions as the text vehicles upload, and break a share of the rows on purpose.

Every column is rendered to an object array of strings (``None`` = field absent). Corruptions
edit those strings; row-shape damage (a CSV row with a field too few, a truncated JSON line) is
flagged here and applied by the writer. Each corruption kind maps to the quarantine reason a
correct ingest gives it (:data:`REASONS`), so tests and the evaluation can check the counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def _fmt(values: np.ndarray, spec: str) -> np.ndarray:
    return np.char.mod(spec, values).astype(object)


def _iso(utc: np.ndarray, off_min: np.ndarray) -> np.ndarray:
    local = utc + off_min.astype("int64").astype("timedelta64[m]")
    base = np.datetime_as_string(local.astype("datetime64[s]"), unit="s").astype(object)
    uniq, inv = np.unique(off_min, return_inverse=True)
    labels = np.array(
        [f"{'+' if o >= 0 else '-'}{abs(int(o)) // 60:02d}:{abs(int(o)) % 60:02d}" for o in uniq],
        dtype=object,
    )
    return base + labels[inv]


def render(rows: pd.DataFrame, opt_in_style: np.ndarray) -> dict[str, np.ndarray]:
    """Text of every contract column for each row.

    ``rows`` needs the columns of :func:`pipelines.sim.sessions.generate_sessions` plus
    ``vehicle_id``, ``session_id`` and ``opt_in``; ``opt_in_style`` is per row True for
    ``true/false`` and False for ``1/0``.
    """
    opt = rows["opt_in"].to_numpy()
    return {
        "vehicle_id": rows["vehicle_id"].to_numpy(dtype=object),
        "session_id": rows["session_id"].to_numpy(dtype=object),
        "plug_in_at": _iso(rows["plug_in_utc"].to_numpy(), rows["off_in_min"].to_numpy()),
        "plug_out_at": _iso(rows["plug_out_utc"].to_numpy(), rows["off_out_min"].to_numpy()),
        "lat": _fmt(rows["lat"].to_numpy(), "%.7f"),
        "lon": _fmt(rows["lon"].to_numpy(), "%.7f"),
        "energy_kwh": _fmt(rows["energy_kwh"].to_numpy(), "%.2f"),
        "max_power_kw": _fmt(rows["max_power_kw"].to_numpy(), "%.1f"),
        "connector": rows["connector"].to_numpy(dtype=object),
        "soc_start_pct": _fmt(rows["soc_start_pct"].to_numpy(), "%.1f"),
        "soc_end_pct": _fmt(rows["soc_end_pct"].to_numpy(), "%.1f"),
        "gps_accuracy_m": _fmt(rows["gps_accuracy_m"].to_numpy(), "%.1f"),
        "opt_in": np.where(
            opt_in_style, np.where(opt, "true", "false"), np.where(opt, "1", "0")
        ).astype(object),
    }


def corrupt(
    text: dict[str, np.ndarray],
    kinds: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Apply the corruption named in ``kinds`` (object array, None = intact) in place."""
    assert set(RAW_COLUMNS) <= set(text)
    for kind in REASONS:
        idx = np.flatnonzero(kinds == kind)
        if len(idx):
            _apply(kind, idx, text, rng)


def _apply(kind: str, idx: np.ndarray, t: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    n = len(idx)
    if kind.startswith("missing_"):
        t[kind.removeprefix("missing_")][idx] = None
    elif kind == "unparseable_plug_in_at":
        bad = np.array(["2026-13-45T25:61:00-05:00", "yesterday 18:00", "1761600000"], dtype=object)
        t["plug_in_at"][idx] = bad[rng.integers(0, len(bad), n)]
    elif kind == "unparseable_lat":  # a decimal comma
        t["lat"][idx] = np.array([s.replace(".", ",") for s in t["lat"][idx]], dtype=object)
    elif kind == "unparseable_energy_kwh":
        t["energy_kwh"][idx] = np.where(rng.random(n) < 0.5, "n/a", "12.3kWh").astype(object)
    elif kind == "timestamp_without_offset":
        t["plug_in_at"][idx] = np.array([s[:19] for s in t["plug_in_at"][idx]], dtype=object)
        t["plug_out_at"][idx] = np.array([s[:19] for s in t["plug_out_at"][idx]], dtype=object)
    elif kind == "timestamp_in_future":  # a unit whose clock jumped a year ahead
        for col in ("plug_in_at", "plug_out_at"):
            t[col][idx] = np.array([str(int(s[:4]) + 1) + s[4:] for s in t[col][idx]], dtype=object)
    elif kind == "plug_out_before_plug_in":  # the two times swapped
        a, b = t["plug_in_at"][idx].copy(), t["plug_out_at"][idx].copy()
        same = a == b
        t["plug_in_at"][idx], t["plug_out_at"][idx] = b, a
        if same.any():  # zero-length session: push plug-in an hour later instead
            t["plug_in_at"][idx[same]] = np.array(
                [s[:11] + f"{(int(s[11:13]) + 1) % 24:02d}" + s[13:] for s in a[same]], dtype=object
            )
    elif kind == "lat_out_of_range":
        t["lat"][idx] = _fmt(rng.choice([-1, 1], n) * rng.uniform(90.5, 400.0, n), "%.7f")
    elif kind == "lon_out_of_range":
        t["lon"][idx] = _fmt(rng.choice([-1, 1], n) * rng.uniform(180.5, 400.0, n), "%.7f")
    elif kind == "position_at_0_0":
        t["lat"][idx] = "0.0"
        t["lon"][idx] = "0.0"
    elif kind == "negative_energy":
        t["energy_kwh"][idx] = _fmt(-rng.uniform(0.1, 50.0, n), "%.2f")
    elif kind == "max_power_not_positive":
        t["max_power_kw"][idx] = np.where(rng.random(n) < 0.5, "0.0", "-7.2").astype(object)
    elif kind == "soc_out_of_range":
        t["soc_end_pct"][idx] = _fmt(rng.uniform(101.0, 250.0, n), "%.1f")
    elif kind == "negative_gps_accuracy":
        t["gps_accuracy_m"][idx] = _fmt(-rng.uniform(1.0, 50.0, n), "%.1f")
    elif kind == "unparseable_opt_in":
        t["opt_in"][idx] = np.where(rng.random(n) < 0.5, "maybe", "yes please").astype(object)
    # wrong_column_count / invalid_json_line: applied by the writer
