"""Incremental site discovery: per-cell state in the lake, updated by the day, not re-read.

Layout under ``<lake>/cells/`` (any fsspec URL works for ``lake``)::

    day=<session day>/landing=<landing day>.parquet   delta: one landing's sessions of one session
                                                      day, aggregated per (micro cell, vehicle)
    window/state.parquet                              the window's aggregate per (cell, vehicle)
    window/manifest.json                              as-of day, window, params, deltas included
    window/partitions.parquet                         last run's per-partition cluster results

A delta is the :data:`pipelines.sites.AGGREGATE_COLUMNS` table of a sessions file
(``<lake>/sessions/day=D/landing=L.parquet``), made by :func:`update_cell_state` right after
ingest, or lazily by :func:`find_sites_incremental` for any sessions file that has none.

The window state holds, per (micro cell, vehicle): session and power counts and the fixed-point
sum of unit vectors (all additive, subtracted exactly when a day expires), a bitmask of the
days with sessions (bit ``o`` = day ``as_of - o``: first/last day after any expiry), the max
power and a bitmask of the days it was reached. A daily run therefore reads

* the deltas that are new since the last run (the new landing day, late uploads included),
* the deltas of the day(s) leaving the window, to subtract them,
* the state itself, whose size is the number of distinct (place, vehicle) pairs — a home used
  90 times is one row — and which grows with the fleet, not with the window,

and re-clusters only the partitions whose micro-points changed (the others' results are kept in
``partitions.parquet`` under a content digest). Only when every day on which a row's max power
was reached has expired does that row's max get recomputed from the window's deltas.

Integer sums make the result independent of history: the sites as of a day are bit-identical
whether the state was built in one go (catch-up) or day by day, and equal to
:func:`pipelines.sites.find_sites` on the window's sessions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

import fsspec
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geo.cluster import Mapper, Partition, PartitionResult, run_partitions, split_partitions, stitch
from pipelines.config import ClusterParams
from pipelines.sites import (
    AGGREGATE_COLUMNS,
    aggregate_sessions,
    combine_aggregates,
    micro_points,
    refine_labels,
    session_days,
    summarise_sites,
    unit_sums,
)

__all__ = [
    "DELTA_SESSION_COLUMNS",
    "find_sites_incremental",
    "read_window_aggregate",
    "update_cell_state",
]

STATE_VERSION = 1
#: session columns a delta is made from
DELTA_SESSION_COLUMNS = [
    "vehicle",
    "plug_in_utc",
    "lat",
    "lon",
    "max_power_kw",
    "gps_accuracy_m",
    "cell",
]
_ADDITIVE = ("n", "sx", "sy", "sz", "n_known", "n_dc")
_DAY0 = dt.date(1970, 1, 1)
_I64_MIN = np.iinfo(np.int64).min


# --------------------------------------------------------------------------------------------
# paths and small I/O helpers (fsspec)
# --------------------------------------------------------------------------------------------
def _fs(lake: str) -> tuple[Any, str]:
    fs, root = fsspec.core.url_to_fs(str(lake))
    return fs, root.rstrip("/")


def _delta_path(root: str, day: str, landing: str) -> str:
    return f"{root}/cells/day={day}/landing={landing}.parquet"


def _write_parquet(fs: Any, table: pa.Table, path: str) -> None:
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    tmp = path.rsplit("/", 1)[0] + "/." + path.rsplit("/", 1)[1] + ".tmp"
    with fs.open(tmp, "wb") as f:
        pq.write_table(table, f, compression="lz4")
    fs.mv(tmp, path)


def _read_parquet(fs: Any, path: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a Parquet file; strings stay Arrow-backed (no Python objects)."""
    with fs.open(path, "rb") as f:
        table = pq.read_table(f, columns=columns)
    return table.to_pandas(types_mapper={pa.string(): pd.ArrowDtype(pa.string())}.get)


def _write_json(fs: Any, data: Any, path: str) -> None:
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    tmp = path + ".tmp"
    with fs.open(tmp, "w") as f:
        f.write(json.dumps(data, indent=1, sort_keys=True))
    fs.mv(tmp, path)


def _day_num(day: str) -> int:
    return (dt.date.fromisoformat(day) - _DAY0).days


def _day_str(num: int) -> str:
    return (_DAY0 + dt.timedelta(days=int(num))).isoformat()


def _params_key(params: ClusterParams, window_days: int) -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "window_days": window_days,
        "micro_res": params.micro_res,
        "max_gps_accuracy_m": params.max_gps_accuracy_m,
    }


# --------------------------------------------------------------------------------------------
# deltas
# --------------------------------------------------------------------------------------------
def update_cell_state(
    lake: str,
    landing_day: str,
    new_sessions: pd.DataFrame | None,
    params: ClusterParams,
) -> list[str]:
    """Aggregate one landing day's accepted sessions into per-session-day deltas.

    Parameters
    ----------
    lake : str
        Lake root (path or fsspec URL).
    landing_day : str
        The upload day (YYYY-MM-DD) the sessions arrived in.
    new_sessions : DataFrame or None
        That landing day's accepted sessions (lake columns); ``None`` reads them from
        ``<lake>/sessions/day=*/landing=<landing_day>.parquet``.
    params : ClusterParams
        ``micro_res`` and ``max_gps_accuracy_m`` shape the aggregate.

    Returns
    -------
    list of str: the session days written. Re-running a landing day replaces its deltas.
    """
    fs, root = _fs(lake)
    old = fs.glob(f"{root}/cells/day=*/landing={landing_day}.parquet")
    for path in old:
        fs.rm(path)
    if old and fs.exists(f"{root}/cells/window/manifest.json"):
        fs.rm(f"{root}/cells/window/manifest.json")  # replaced deltas: rebuild the window once
    if new_sessions is None:
        files = sorted(fs.glob(f"{root}/sessions/day=*/landing={landing_day}.parquet"))
        frames = [_read_parquet(fs, f, DELTA_SESSION_COLUMNS) for f in files]
        new_sessions = pd.concat(frames, ignore_index=True) if frames else None
    if new_sessions is None or new_sessions.empty:
        return []
    days = session_days(new_sessions["plug_in_utc"])
    keys = [(_day_str(d), landing_day) for d in np.unique(days).tolist()]
    _make_deltas(fs, root, keys, [new_sessions.loc[days == _day_num(k[0])] for k in keys], params)
    return [day for day, _ in keys]


def _make_deltas(
    fs: Any,
    root: str,
    keys: list[tuple[str, str]],
    sessions: list[pd.DataFrame],
    params: ClusterParams,
) -> None:
    """Aggregate several sessions tables in one pass and write one delta per key."""
    if not keys:
        return
    frames = [s.assign(_part=i) for i, s in enumerate(sessions)]
    agg = aggregate_sessions(pd.concat(frames, ignore_index=True), params, by="_part")
    part = agg.pop("part").to_numpy(np.int64)
    bounds = np.searchsorted(part, np.arange(len(keys) + 1))
    for i, (day, landing) in enumerate(keys):
        chunk = agg.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True)
        _write_delta(fs, root, day, landing, chunk, params)


def _write_delta(
    fs: Any, root: str, day: str, landing: str, agg: pd.DataFrame, params: ClusterParams
) -> None:
    table = pa.Table.from_pandas(agg, preserve_index=False)
    meta = {b"chargepoints.cells": json.dumps(_params_key(params, 0)).encode()}
    _write_parquet(fs, table.replace_schema_metadata(meta), _delta_path(root, day, landing))


def _ensure_deltas(
    fs: Any, root: str, first: str, last: str, as_of: str, params: ClusterParams
) -> dict[tuple[str, str], int]:
    """Every sessions file of session days [first, last] landed by ``as_of`` -> its size in
    bytes; each gets a delta, made from the sessions file where missing."""
    sizes: dict[tuple[str, str], int] = {}
    listing = fs.glob(f"{root}/sessions/day=*/landing=*.parquet", detail=True)
    for path, info in listing.items():
        day, landing = _keys_of(path)
        if first <= day <= last and landing <= as_of:
            sizes[(day, landing)] = int(info["size"])
    have = {_keys_of(p) for p in fs.glob(f"{root}/cells/day=*/landing=*.parquet")}
    batch: list[tuple[str, str]] = []
    tables: list[pd.DataFrame] = []
    for day, landing in sorted(set(sizes) - have):  # in batches of ~1M sessions
        path = f"{root}/sessions/day={day}/landing={landing}.parquet"
        batch.append((day, landing))
        tables.append(_read_parquet(fs, path, DELTA_SESSION_COLUMNS))
        if sum(map(len, tables)) >= 1_000_000:
            _make_deltas(fs, root, batch, tables, params)
            batch, tables = [], []
    _make_deltas(fs, root, batch, tables, params)
    return sizes


def _keys_of(path: str) -> tuple[str, str]:
    """(day, landing) of a ``.../day=D/landing=L.parquet`` path."""
    folder, name = path.rsplit("/", 2)[-2:]
    return folder.removeprefix("day="), name.removeprefix("landing=").removesuffix(".parquet")


def _read_deltas(
    fs: Any, root: str, keys: Iterable[tuple[str, str]], params: ClusterParams
) -> list[pd.DataFrame]:
    """The deltas of ``keys`` with a ``day`` column; a delta made with other aggregation
    parameters (``micro_res``, ``max_gps_accuracy_m``) is remade from its sessions file."""
    want = json.dumps(_params_key(params, 0)).encode()
    out = []
    for day, landing in keys:
        with fs.open(_delta_path(root, day, landing), "rb") as f:
            table = pq.read_table(f)
        if (table.schema.metadata or {}).get(b"chargepoints.cells") == want:
            frame = table.to_pandas()
        else:
            sessions = _read_parquet(
                fs, f"{root}/sessions/day={day}/landing={landing}.parquet", DELTA_SESSION_COLUMNS
            )
            frame = aggregate_sessions(sessions, params)
            _write_delta(fs, root, day, landing, frame, params)
        frame["day"] = _day_num(day)
        out.append(frame)
    return out


# --------------------------------------------------------------------------------------------
# day bitmasks: bit o of the mask (word o // 64) is day (as_of - o)
# --------------------------------------------------------------------------------------------
def _words(window_days: int) -> int:
    return (window_days + 63) // 64


def _day_bits(offsets: npt.NDArray[np.int64], n_words: int) -> npt.NDArray[np.uint64]:
    """One-hot masks (rows, n_words) for day offsets (negative or too large give 0)."""
    out = np.zeros((offsets.size, n_words), dtype=np.uint64)
    ok = (offsets >= 0) & (offsets < 64 * n_words)
    rows = np.flatnonzero(ok)
    out[rows, offsets[ok] // 64] = np.left_shift(np.uint64(1), (offsets[ok] % 64).astype(np.uint64))
    return out


def _shift(masks: npt.NDArray[np.uint64], days: int, window_days: int) -> npt.NDArray[np.uint64]:
    """Advance masks by ``days`` (offsets grow) and clear offsets outside the window."""
    m = masks.shape[1]
    out = np.zeros_like(masks)
    q, r = divmod(days, 64)
    if q < m:
        out[:, q:] = masks[:, : m - q]
        if r:
            carry = np.zeros_like(out)
            carry[:, 1:] = out[:, :-1] >> np.uint64(64 - r)
            out = (out << np.uint64(r)) | carry
    keep = _day_bits(np.arange(window_days, dtype=np.int64), m).sum(axis=0, dtype=np.uint64)
    return out & keep


def _bit_index(x: npt.NDArray[np.uint64], highest: bool) -> npt.NDArray[np.int64]:
    """Index of the highest/lowest set bit of nonzero uint64 values."""
    if not highest:
        x = x & (~x + np.uint64(1))  # lowest set bit: an exact power of two
    e = (np.frexp(x.astype(np.float64))[1] - 1).astype(np.int64)
    too_big = (x >> np.minimum(e, 63).astype(np.uint64)) == 0  # float rounding went up
    return np.where(too_big, e - 1, e)


def _extreme_offsets(masks: npt.NDArray[np.uint64]) -> tuple[npt.NDArray, npt.NDArray]:
    """(lowest, highest) set offset per row; rows must have a bit set."""
    nz = masks != 0
    m = masks.shape[1]
    lo_w = np.argmax(nz, axis=1)
    hi_w = m - 1 - np.argmax(nz[:, ::-1], axis=1)
    rows = np.arange(masks.shape[0])
    lo = lo_w * 64 + _bit_index(masks[rows, lo_w], highest=False)
    hi = hi_w * 64 + _bit_index(masks[rows, hi_w], highest=True)
    return lo, hi


# --------------------------------------------------------------------------------------------
# the window state
# --------------------------------------------------------------------------------------------
def _state_from_deltas(
    deltas: list[pd.DataFrame], as_of: int, n_words: int, sign: int = 1
) -> pd.DataFrame:
    """Delta rows (with a ``day`` column) in the state's form, not yet combined."""
    if not deltas:
        return _empty_state(n_words)
    d = pd.concat(deltas, ignore_index=True)
    out = {"cell": d["cell"].to_numpy(np.uint64), "vkey": d["vkey"].to_numpy(np.uint64)}
    for c in _ADDITIVE:
        out[c] = sign * d[c].to_numpy(np.int64)
    pmax = d["pmax"].to_numpy(np.float64)
    days = _day_bits(as_of - d["day"].to_numpy(np.int64), n_words)
    pdays = np.where(np.isfinite(pmax)[:, None], days, np.uint64(0))
    if sign < 0:  # subtracting: presence and max are handled by the shift and recompute
        days[:] = 0
        pdays[:] = 0
        pmax[:] = np.nan
    out["pmax"] = pmax
    for w in range(n_words):
        out[f"d{w}"] = days[:, w]
        out[f"p{w}"] = pdays[:, w]
    return pd.DataFrame(out)


def _empty_state(n_words: int) -> pd.DataFrame:
    cols = {"cell": np.uint64, "vkey": np.uint64} | {c: np.int64 for c in _ADDITIVE}
    cols |= {"pmax": np.float64} | {f"{k}{w}": np.uint64 for w in range(n_words) for k in "dp"}
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in cols.items()})


def _combine_state(frames: list[pd.DataFrame], n_words: int) -> pd.DataFrame:
    """Sum additive columns, OR day masks, keep the max power and OR the days it was reached;
    drop rows left with no session. Sorted by (cell, vkey)."""
    frame = pd.concat([f for f in frames if len(f)], ignore_index=True)
    if frame.empty:
        return _empty_state(n_words)
    cell, vkey = frame["cell"].to_numpy(np.uint64), frame["vkey"].to_numpy(np.uint64)
    order = np.lexsort((vkey, cell))
    cell, vkey = cell[order], vkey[order]
    new = np.r_[True, (cell[1:] != cell[:-1]) | (vkey[1:] != vkey[:-1])]
    start = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    out: dict[str, Any] = {"cell": cell[start], "vkey": vkey[start]}
    for c in _ADDITIVE:
        out[c] = np.add.reduceat(frame[c].to_numpy(np.int64)[order], start)
    pmax = frame["pmax"].to_numpy(np.float64)[order]
    gmax = np.fmax.reduceat(pmax, start)
    at_max = pmax == gmax[group]
    out["pmax"] = gmax
    for w in range(n_words):
        out[f"d{w}"] = np.bitwise_or.reduceat(frame[f"d{w}"].to_numpy(np.uint64)[order], start)
        pw = np.where(at_max, frame[f"p{w}"].to_numpy(np.uint64)[order], np.uint64(0))
        out[f"p{w}"] = np.bitwise_or.reduceat(pw, start)
    if "_recompute" in frame:
        flag = frame["_recompute"].eq(True).to_numpy()[order]
        out["_recompute"] = np.logical_or.reduceat(flag, start)
    state = pd.DataFrame(out)
    return state.loc[state["n"].to_numpy() > 0].reset_index(drop=True)


def _masks(state: pd.DataFrame, kind: str, n_words: int) -> npt.NDArray[np.uint64]:
    return state[[f"{kind}{w}" for w in range(n_words)]].to_numpy(np.uint64).reshape(-1, n_words)


def _advance(state: pd.DataFrame, days: int, window_days: int, n_words: int) -> pd.DataFrame:
    """Shift the masks by ``days``; a row whose max-power days all expired gets NaN (recompute)."""
    if days == 0 or state.empty:
        return state
    state = state.copy()
    d = _shift(_masks(state, "d", n_words), days, window_days)
    p = _shift(_masks(state, "p", n_words), days, window_days)
    for w in range(n_words):
        state[f"d{w}"], state[f"p{w}"] = d[:, w], p[:, w]
    lost = np.isfinite(state["pmax"].to_numpy()) & ~p.any(axis=1)
    state.loc[lost, "pmax"] = np.nan
    state["_recompute"] = lost
    return state


def _pair_hash(cell: npt.NDArray[np.uint64], vkey: npt.NDArray[np.uint64]) -> npt.NDArray:
    """A 64-bit hash of (cell, vkey) for fast semi-joins (confirmed by an exact join after)."""
    with np.errstate(over="ignore"):
        return (cell * np.uint64(0x9E3779B97F4A7C15)) ^ vkey


def _recompute_pmax(
    state: pd.DataFrame,
    fs: Any,
    root: str,
    keys: list[tuple[str, str]],
    as_of: int,
    n_words: int,
) -> pd.DataFrame:
    """Rebuild max power and its days for the rows flagged ``_recompute`` from the window's
    deltas (flagged: rows whose every max-power day expired). Reads three columns per delta."""
    flag = state.pop("_recompute").to_numpy(bool)
    if not flag.any() or not keys:
        return state
    want = np.unique(
        _pair_hash(*(state.loc[flag, c].to_numpy(np.uint64) for c in ("cell", "vkey")))
    )
    parts = []
    for day, landing in keys:
        d = _read_parquet(fs, _delta_path(root, day, landing), ["cell", "vkey", "pmax"])
        h = _pair_hash(d["cell"].to_numpy(np.uint64), d["vkey"].to_numpy(np.uint64))
        d = d.loc[np.isin(h, want) & np.isfinite(d["pmax"].to_numpy())]
        parts.append(d.assign(day=_day_num(day)))
    target = state.loc[flag, ["cell", "vkey"]].reset_index()
    d = pd.concat(parts, ignore_index=True).merge(target[["cell", "vkey"]], on=["cell", "vkey"])
    if d.empty:
        return state
    rows = _state_from_deltas([d.assign(**dict.fromkeys(_ADDITIVE, 0))], as_of, n_words)
    pcols = [f"p{w}" for w in range(n_words)]
    best = _combine_state([rows.assign(n=1)], n_words)[["cell", "vkey", "pmax", *pcols]]
    hit = target.merge(best, on=["cell", "vkey"], how="inner")
    state = state.copy()
    rows_at = hit["index"].to_numpy()
    state.loc[rows_at, "pmax"] = hit["pmax"].to_numpy()
    for c in pcols:
        state.loc[rows_at, c] = hit[c].to_numpy(np.uint64)
    return state


def _aggregate_view(state: pd.DataFrame, as_of: int, n_words: int) -> pd.DataFrame:
    """The state as a :data:`AGGREGATE_COLUMNS` table (first/last day from the day masks)."""
    if state.empty:
        return combine_aggregates([])
    lo, hi = _extreme_offsets(_masks(state, "d", n_words))
    view = state[["cell", "vkey", *_ADDITIVE, "pmax"]].copy()
    view["first_day"] = as_of - hi
    view["last_day"] = as_of - lo
    return view[list(AGGREGATE_COLUMNS)]


def read_window_aggregate(
    lake: str, day: str, window_days: int, params: ClusterParams
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Bring the window state up to ``day`` and return it as an aggregate table.

    Returns the :data:`AGGREGATE_COLUMNS` table of the window ``[day - window_days + 1, day]``
    (sessions landed by ``day``) and a dict of what was read (for logs and the benchmark).
    The state is rebuilt from the window's deltas when there is none, when its parameters
    differ, when ``day`` is before its as-of day, or when a sessions file it included changed.
    """
    fs, root = _fs(lake)
    as_of = _day_num(day)
    first = _day_str(as_of - window_days + 1)
    n_words = _words(window_days)
    sizes = _ensure_deltas(fs, root, first, day, day, params)
    keys = sorted(sizes)
    manifest = _read_manifest(fs, root)
    included: dict[tuple[str, str], int] = {}
    if manifest is not None:
        included = {(d, lnd): size for d, lnd, size in manifest["included"]}
    usable = (
        manifest is not None
        and manifest["params"] == _params_key(params, window_days)
        and manifest["as_of"] <= day
        and all(sizes.get(k, size) == size for k, size in included.items())
        and all(fs.exists(_delta_path(root, *k)) for k in included if k[0] < first)
    )
    if usable:
        state = _read_parquet(fs, f"{root}/cells/window/state.parquet")
        state = _advance(state, as_of - _day_num(manifest["as_of"]), window_days, n_words)
        expired = sorted(k for k in included if k[0] < first)
        added = [k for k in keys if k not in included]
        minus = _state_from_deltas(_read_deltas(fs, root, expired, params), as_of, n_words, sign=-1)
        plus = _state_from_deltas(_read_deltas(fs, root, added, params), as_of, n_words)
        state = _combine_state([state, minus, plus], n_words)
        flag = _needs_recompute(state, n_words)
        if "_recompute" in state:
            flag |= state["_recompute"].to_numpy(bool)
        state["_recompute"] = flag
        state = _recompute_pmax(state, fs, root, keys, as_of, n_words)
        stats = {"deltas_added": len(added), "deltas_expired": len(expired)}
        stats["pmax_recomputed_rows"] = int(flag.sum())
    else:
        added = keys
        deltas = _state_from_deltas(_read_deltas(fs, root, keys, params), as_of, n_words)
        state = _combine_state([deltas], n_words)
        stats = {"deltas_added": len(keys), "deltas_expired": 0, "pmax_recomputed_rows": 0}
    state = state.drop(columns=["_recompute"], errors="ignore")
    _write_parquet(
        fs, pa.Table.from_pandas(state, preserve_index=False), f"{root}/cells/window/state.parquet"
    )
    manifest = {
        "as_of": day,
        "params": _params_key(params, window_days),
        "included": [[d, lnd, sizes[(d, lnd)]] for d, lnd in keys],
    }
    _write_json(fs, manifest, f"{root}/cells/window/manifest.json")
    stats |= {"rebuilt": not usable, "state_rows": len(state)}
    return _aggregate_view(state, as_of, n_words), stats


def _read_manifest(fs: Any, root: str) -> dict[str, Any] | None:
    path = f"{root}/cells/window/manifest.json"
    if not (fs.exists(path) and fs.exists(f"{root}/cells/window/state.parquet")):
        return None
    with fs.open(path, "r") as f:
        return json.load(f)


def _needs_recompute(state: pd.DataFrame, n_words: int) -> npt.NDArray[np.bool_]:
    """Rows that reported power in the window but whose max-power days have all expired."""
    p = _masks(state, "p", n_words)
    return (state["n_known"].to_numpy() > 0) & ~p.any(axis=1)


# --------------------------------------------------------------------------------------------
# clustering with a per-partition cache
# --------------------------------------------------------------------------------------------
def _digest(
    part: Partition, cells: npt.NDArray[np.uint64], eps_m: float, min_samples: float
) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(np.asarray([eps_m, min_samples], np.float64).tobytes())
    h.update(cells[part.ids].tobytes())
    h.update(part.weights.tobytes())
    h.update(part.xyz.tobytes())
    h.update(part.owned.tobytes())
    return h.hexdigest()


def _cluster_cached(
    micro: pd.DataFrame,
    params: ClusterParams,
    fs: Any,
    root: str,
    mapper: Mapper,
) -> tuple[npt.NDArray[np.int64], dict[str, int]]:
    cells = micro["cell"].to_numpy(np.uint64)
    xyz = unit_sums(micro[["sx", "sy", "sz"]].to_numpy())
    parts = split_partitions(
        xyz, micro["n"].to_numpy(np.float64), cells, params.eps_m, params.partition_res
    )
    digests = [_digest(p, cells, params.eps_m, params.min_samples) for p in parts]
    cache_path = f"{root}/cells/window/partitions.parquet"
    cache = _read_parquet(fs, cache_path) if fs.exists(cache_path) else None
    known: dict[str, pd.DataFrame] = (
        dict(tuple(cache.groupby("digest", sort=False))) if cache is not None else {}
    )
    todo = [p for p, d in zip(parts, digests, strict=True) if d not in known]
    done = run_partitions(todo, params.eps_m, params.min_samples, mapper)
    fresh = {r.key: r for r in done}
    # a cache no partition could use (dense fleets: every partition changes daily) is not
    # rewritten; digests keep a stale one harmless
    write_cache = cache is None or len(todo) < len(parts)
    results, rows = [], []
    for p, d in zip(parts, digests, strict=True):
        if p.key in fresh:
            r = fresh[p.key]
        else:
            c = known[d]
            ids = np.searchsorted(cells, c["cell"].to_numpy(np.uint64))
            r = PartitionResult(
                p.key,
                ids,
                c["label"].to_numpy(np.int64),
                c["core"].to_numpy(bool),
                c["owned"].to_numpy(bool),
            )
        results.append(r)
        if write_cache:
            rows.append(
                pd.DataFrame(
                    {
                        "digest": d,
                        "cell": cells[r.ids],
                        "label": r.labels,
                        "core": r.core,
                        "owned": r.owned,
                    }
                )
            )
    if rows:
        table = pa.Table.from_pandas(pd.concat(rows, ignore_index=True), preserve_index=False)
        _write_parquet(fs, table, cache_path)
    labels = refine_labels(
        xyz, micro["n"].to_numpy(np.float64), stitch(results, len(micro)), params
    )
    return labels, {"partitions": len(parts), "partitions_clustered": len(todo)}


def find_sites_incremental(
    lake: str,
    day: str,
    window_days: int,
    params: ClusterParams,
    mapper: Mapper = map,
) -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    """The sites as of ``day`` from the lake's cell state, updated incrementally.

    Parameters
    ----------
    lake : str
        Lake root (path or fsspec URL) holding ``sessions/`` (and ``cells/`` once run).
    day : str
        As-of day: the window is ``[day - window_days + 1, day]`` and only sessions landed by
        ``day`` count (as ``pipelines.lake.read_sessions(..., max_landing_day=day)``).
    window_days : int
        Window length.
    params : ClusterParams
        Clustering parameters.
    mapper : callable, optional
        ``mapper(func, partitions)`` runs the partitions to (re)cluster (e.g. on Dask).

    Returns
    -------
    sites : DataFrame
        As :func:`pipelines.sites.find_sites` on the window's sessions, identical.
    cell_labels : Series
        Cluster per micro cell (index uint64 cell, sorted; -1 noise); give it to
        :func:`pipelines.sites.session_labels` to label sessions.
    stats : dict
        What the run read and re-clustered.
    """
    fs, root = _fs(lake)
    clock = time.perf_counter()
    agg, stats = read_window_aggregate(lake, day, window_days, params)
    seconds = {"window_state": time.perf_counter() - clock}
    clock = time.perf_counter()
    micro = micro_points(agg)
    raw, cstats = _cluster_cached(micro, params, fs, root, mapper)
    seconds["cluster"] = time.perf_counter() - clock
    clock = time.perf_counter()
    cells = micro["cell"].to_numpy(np.uint64)
    sites, relabel = summarise_sites(agg, pd.Series(raw, index=cells), params.visitor_min_once)
    seconds["summarise"] = time.perf_counter() - clock
    stats["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    stats["micro_points"] = len(micro)
    labels = relabel[np.maximum(raw, 0)] if relabel.size else np.zeros_like(raw)
    labels = np.where(raw >= 0, labels, -1)
    return sites, pd.Series(labels, index=cells, name="cluster"), stats | cstats
