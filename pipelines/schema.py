"""The one place for column names, dtypes and the raw contract's validation rules.

Three tables cross module boundaries:

* **raw** — what vehicles upload (contract §1). Read as text, validated in :mod:`pipelines.ingest`.
* **sessions** — the lake's accepted rows, pseudonymised, typed, with their H3 cell.
* **sites** — one row per discovered charge site; built by :mod:`pipelines.sites`, extended by
  :mod:`pipelines.classify`, :mod:`pipelines.identity` and :mod:`pipelines.registry`, and
  written by :mod:`pipelines.publish`.
"""

from __future__ import annotations

import pyarrow as pa

# --------------------------------------------------------------------------------------------
# Raw charge logs (contract §1)
# --------------------------------------------------------------------------------------------
RAW_REQUIRED: tuple[str, ...] = (
    "vehicle_id",
    "session_id",
    "plug_in_at",
    "plug_out_at",
    "lat",
    "lon",
    "energy_kwh",
)
RAW_OPTIONAL: tuple[str, ...] = (
    "max_power_kw",
    "connector",
    "soc_start_pct",
    "soc_end_pct",
    "gps_accuracy_m",
    "opt_in",
)
RAW_COLUMNS: tuple[str, ...] = RAW_REQUIRED + RAW_OPTIONAL

LANDING_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")

CONNECTORS: frozenset[str] = frozenset({"chademo", "ccs", "type1", "type2", "j1772", "nacs"})

#: sessions at or above this peak power count as DC quick charging
DC_POWER_KW: float = 20.0


#: quarantine reason codes (stable strings: they appear in run reports)
class Reason:
    MISSING = "missing_{}"  # formatted with the column name
    UNPARSEABLE = "unparseable_{}"
    TIME_NO_OFFSET = "timestamp_without_offset"
    TIME_FUTURE = "timestamp_in_future"
    PLUG_OUT_BEFORE_IN = "plug_out_before_plug_in"
    LAT_RANGE = "lat_out_of_range"
    LON_RANGE = "lon_out_of_range"
    NULL_ISLAND = "position_at_0_0"
    NEGATIVE_ENERGY = "negative_energy"
    BAD_POWER = "max_power_not_positive"
    BAD_SOC = "soc_out_of_range"
    BAD_ACCURACY = "negative_gps_accuracy"
    BAD_OPT_IN = "unparseable_opt_in"
    BAD_ROW_SHAPE = "wrong_column_count"
    BAD_JSON = "invalid_json_line"
    BAD_FILE = "unreadable_file"
    BAD_ENCODING = "invalid_utf8_line"
    MISSING_COLUMNS = "file_missing_required_columns"


# --------------------------------------------------------------------------------------------
# Lake: accepted sessions
# --------------------------------------------------------------------------------------------
#: H3 resolution of the per-session cell stored in the lake (res 13: ~3.5 m edge)
SESSION_CELL_RES: int = 13

SESSIONS_SCHEMA = pa.schema(
    [
        ("vehicle", pa.string()),  # HMAC-SHA256 pseudonym, hex; never leaves the lake
        ("session_id", pa.string()),
        ("plug_in_utc", pa.timestamp("s", tz="UTC")),
        ("plug_out_utc", pa.timestamp("s", tz="UTC")),
        ("utc_offset_min", pa.int16()),  # the upload's local offset, for local hour/weekday
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("energy_kwh", pa.float32()),
        ("max_power_kw", pa.float32()),
        ("connector", pa.string()),
        ("soc_start_pct", pa.float32()),
        ("soc_end_pct", pa.float32()),
        ("gps_accuracy_m", pa.float32()),
        ("cell", pa.uint64()),  # H3 cell at SESSION_CELL_RES
        ("landing_day", pa.string()),  # YYYY-MM-DD upload day it arrived in
    ]
)
SESSION_COLUMNS: tuple[str, ...] = tuple(SESSIONS_SCHEMA.names)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("landing_day", pa.string()),
        ("source_file", pa.string()),  # path relative to the landing day folder
        ("line", pa.int64()),  # 1-based data row (CSV: header not counted); -1 for a whole file
        ("reason", pa.string()),
        ("raw", pa.string()),  # the rejected row's text, kept only as long as the raw data
    ]
)

# --------------------------------------------------------------------------------------------
# Sites
# --------------------------------------------------------------------------------------------
#: columns every stage after clustering can rely on (pipelines.sites output)
SITE_CORE_COLUMNS: tuple[str, ...] = (
    "cluster",  # int64, this run's cluster label (not stable; see site_id)
    "lat",
    "lon",  # float64 centroid, WGS84
    "sessions",  # int64
    "vehicles",  # int64 distinct pseudonymous vehicles
    "first_seen",
    "last_seen",  # str YYYY-MM-DD (UTC day of plug-in)
    "power_class",  # "dc" | "ac" | "mixed"
    "max_power_kw",  # float64, NaN where no session reported power
)

#: classification output
SITE_CLASSES: tuple[str, ...] = (
    "public",
    "residential",
    "workplace",
    "private",
    "too_few_vehicles",
    "unconfirmed",  # not enough evidence of public use yet (held back, may be public later)
)

#: published properties, in the order they appear in every published file (contract §3)
PUBLISHED_PROPERTIES: tuple[str, ...] = (
    "site_id",
    "status",
    "sessions",
    "vehicles",
    "power_class",
    "first_seen",
    "last_seen",
    "known",
    "registry_id",
)
SITE_STATUSES: tuple[str, ...] = ("new", "active", "stale")
