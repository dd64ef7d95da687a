"""``simulate(config) -> SimSummary``: a whole fleet simulation from world to files on disk."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.sim._geo import offset
from pipelines.sim.config import SimConfig, SimSummary
from pipelines.sim.corrupt import Text, allowed_kinds, corrupt, render
from pipelines.sim.fleet import World, build_world
from pipelines.sim.reference import load_profiles
from pipelines.sim.sessions import generate_sessions
from pipelines.sim.writer import PROVIDERS, write_landing

#: a re-sent session arrives this many days after the original (0 = same day, another file)
RESEND_MAX_LAG_DAYS = 3
#: registry positions are geocoded addresses: off by a few metres to tens of metres
REGISTRY_SIGMA_M = 8.0


def simulate(config: SimConfig) -> SimSummary:
    """Simulate ``config`` and write ``landing/``, ``registry.csv``, ``truth/`` and ``LAST_DATE``.

    The output folder's ``landing``, ``truth`` and ``registry.csv`` are replaced. Deterministic:
    the same config gives byte-identical files.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    world = build_world(config, rng)
    profiles = load_profiles(config.reference_dir)
    s = generate_sessions(config, world, profiles, rng)
    n = len(s)
    v = world.vehicles

    s["vehicle_id"] = v["vehicle_id"].to_numpy()[s["vehicle"].to_numpy()]
    s["opt_in"] = v["opt_in"].to_numpy()[s["vehicle"].to_numpy()]
    s["provider"] = v["provider"].to_numpy()[s["vehicle"].to_numpy()]
    s["session_id"] = (rng.permutation(n) + 1_000_000_000).astype(np.int64)

    kinds = _corruption_kinds(config, rng, s["provider"].to_numpy())

    # re-sent duplicates: exact copies, same provider, a little later
    dup = np.flatnonzero(rng.random(n) < config.share_duplicate)
    dup_day = s["upload_day"].to_numpy().astype("datetime64[D]")[dup] + rng.integers(
        0, RESEND_MAX_LAG_DAYS + 1, len(dup)
    ).astype("timedelta64[D]")
    rows = np.concatenate([np.arange(n), dup])
    upload = np.concatenate([s["upload_day"].to_numpy(), dup_day]).astype("datetime64[D]")

    first = np.datetime64(config.start.isoformat(), "D")
    last = np.datetime64(config.last_day.isoformat(), "D")
    days = np.arange(first, last + 1)
    inside = upload <= last
    rows, upload = rows[inside], upload[inside]
    provider = s["provider"].to_numpy()
    # file order: upload day, provider, then plug-out time; every file is then a contiguous slice
    order = np.lexsort((s["plug_out_utc"].to_numpy()[rows], provider[rows], upload))
    rows, upload = rows[order], upload[order]
    text = _render_rows(s, rows, kinds, rng)
    broken = np.isin(kinds[rows].astype(str), ["wrong_column_count", "invalid_json_line"])

    out = Path(config.out)
    for sub in ("landing", "truth"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    files = write_landing(out / "landing", text, broken, provider[rows], upload, days)
    _write_registry(out / "registry.csv", world, rng)
    (out / "LAST_DATE").write_text(f"{config.last_day.isoformat()}\n")

    received = s["upload_day"].to_numpy() <= last
    resent = np.bincount(dup[dup_day <= last], minlength=n)
    _write_truth(out / "truth", world, s, kinds, resent)
    st_counts = world.stations["kind"].value_counts().sort_index()
    summary = SimSummary(
        out=str(out),
        vehicles=config.vehicles,
        sessions=n,
        rows_written=len(rows),
        duplicates=int(len(rows) - received.sum()),
        corrupted=int((kinds[received] != None).sum()),  # noqa: E711 - elementwise on objects
        opted_out_rows=int((~s["opt_in"].to_numpy()[rows]).sum()),
        not_yet_received=int((~received).sum()),
        files=files,
        landing_days=len(days),
        last_day=config.last_day.isoformat(),
        stations={str(k): int(c) for k, c in st_counts.items()},
        seconds=round(time.perf_counter() - t0, 2),
    )
    doc = {k: v for k, v in dataclasses.asdict(summary).items() if k not in ("seconds", "out")}
    cfg = {
        k: str(v) if not isinstance(v, int | float) else v
        for k, v in dataclasses.asdict(config).items()
    }
    cfg.pop("out"), cfg.pop("reference_dir")
    doc["config"] = cfg
    (out / "truth" / "summary.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return summary


def _render_rows(
    s: pd.DataFrame, rows: np.ndarray, kinds: np.ndarray, rng: np.random.Generator
) -> Text:
    """Text of the output rows (session indices ``rows``, duplicates included).

    Corruption is drawn once per session and copied to every copy of it, so a re-sent session
    is byte-identical to the original.
    """
    words = np.array([p.opt_in_words for p in PROVIDERS])
    text = render(s.iloc[rows], words[s["provider"].to_numpy()[rows]])
    bad = np.flatnonzero(kinds != None)  # noqa: E711 - elementwise on objects
    if len(bad):
        sub = s.iloc[bad]
        bad_text = render(sub, words[sub["provider"].to_numpy()])
        corrupt(bad_text, kinds[bad], rng)
        pos = np.flatnonzero(np.isin(rows, bad))
        k = np.searchsorted(bad, rows[pos])
        for c in text.values:
            text.values[c][pos] = bad_text.values[c][k]
            text.missing[c][pos] = bad_text.missing[c][k]
            text.non_numeric[c][pos] = bad_text.non_numeric[c][k]
    return text


def _corruption_kinds(cfg: SimConfig, rng: np.random.Generator, provider: np.ndarray) -> np.ndarray:
    n = len(provider)
    kinds = np.full(n, None, dtype=object)
    hit = rng.random(n) < cfg.corrupt_share
    for pi, p in enumerate(PROVIDERS):
        idx = np.flatnonzero(hit & (provider == pi))
        allowed = np.array(allowed_kinds(p.fmt, p.columns), dtype=object)
        kinds[idx] = allowed[rng.integers(0, len(allowed), len(idx))]
    return kinds


def _write_registry(path: Path, world: World, rng: np.random.Generator) -> None:
    st = world.stations
    reg = st[st["registry_id"].notna()].sort_values("registry_id")
    e, nn = rng.normal(0, REGISTRY_SIGMA_M, (2, len(reg)))
    lat, lon = offset(reg["lat"].to_numpy(), reg["lon"].to_numpy(), e, nn)
    pd.DataFrame(
        {
            "registry_id": reg["registry_id"],
            "lat": lat.round(7),
            "lon": lon.round(7),
            "name": reg["name"],
        }
    ).to_csv(path, index=False, lineterminator="\n", float_format="%.7f")


def _write_truth(
    truth: Path, world: World, s: pd.DataFrame, kinds: np.ndarray, resent: np.ndarray
) -> None:
    """stations.parquet, sessions.parquet and vehicles.parquet (see docs/simulator.md)."""
    truth.mkdir(parents=True, exist_ok=True)
    st, v = world.stations, world.vehicles
    sid = st["station_id"].to_numpy()
    stations = pa.table(
        {
            "station_id": pa.array(sid, pa.string()),
            "kind": pa.array(st["kind"].to_numpy(), pa.string()),
            "lat": pa.array(st["lat"].to_numpy(), pa.float64()),
            "lon": pa.array(st["lon"].to_numpy(), pa.float64()),
            "name": pa.array(st["name"].to_list(), pa.string()),
            "opened": pa.array(st["opened"].to_list(), pa.date32()),
            "closed": pa.array(st["closed"].to_list(), pa.date32()),
            "registry_id": pa.array(st["registry_id"].to_list(), pa.string()),
            "optout_only": pa.array(st["optout_only"].to_numpy(), pa.bool_()),
        }
    )
    pq.write_table(stations, truth / "stations.parquet")
    vi, si = s["vehicle"].to_numpy(), s["station"].to_numpy()
    providers = [p.name for p in PROVIDERS]
    sessions = pa.table(
        {
            "vehicle_id": _decode(vi, v["vehicle_id"].to_list()),
            "session_id": pa.array(s["session_id"].to_numpy()).cast(pa.string()),
            "station_id": _decode(si, sid.tolist()),
            "kind": _decode(si, st["kind"].to_list()),
            "opt_in": pa.array(s["opt_in"].to_numpy(), pa.bool_()),
            "corrupted": pa.array(kinds != None, pa.bool_()),  # noqa: E711
            "corruption": pa.array(kinds.tolist(), pa.string()),
            "dc": pa.array(s["dc"].to_numpy(), pa.bool_()),
            "plug_in_utc": pa.array(
                s["plug_in_utc"].to_numpy().astype("datetime64[s]"), pa.timestamp("s", tz="UTC")
            ),
            "upload_day": pa.array(s["upload_day"].to_numpy().astype("datetime64[D]"), pa.date32()),
            "resent": pa.array(resent.astype(np.int32), pa.int32()),
            "provider": _decode(s["provider"].to_numpy(), providers),
            "lat": pa.array(s["lat"].to_numpy(), pa.float64()),
            "lon": pa.array(s["lon"].to_numpy(), pa.float64()),
        }
    )
    pq.write_table(sessions, truth / "sessions.parquet")
    hs = v["home_station"].to_numpy()
    ws = v["work_station"].to_numpy()
    vehicles = pa.table(
        {
            "vehicle_id": pa.array(v["vehicle_id"].to_numpy(), pa.string()),
            "home_kind": pa.array(v["home_kind"].to_numpy(), pa.string()),
            "home_station_id": pa.array(np.where(hs >= 0, sid[hs], None).tolist(), pa.string()),
            "work_station_id": pa.array(np.where(ws >= 0, sid[ws], None).tolist(), pa.string()),
            "opt_in": pa.array(v["opt_in"].to_numpy(), pa.bool_()),
            "provider": pa.array(
                np.array([p.name for p in PROVIDERS])[v["provider"].to_numpy()], pa.string()
            ),
        }
    )
    pq.write_table(vehicles, truth / "vehicles.parquet")


def _decode(indices: np.ndarray, dictionary: list[str]) -> pa.Array:
    """``dictionary[indices]`` as a plain string array, built in Arrow (fast for 1M rows)."""
    arr = pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(dictionary))
    return arr.dictionary_decode()
