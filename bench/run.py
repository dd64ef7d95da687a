"""Benchmark: site discovery at fleet scale, next to the naive baseline, in the same run.

``python -m bench.run`` (``make bench``) simulates fleets (:mod:`bench.synth`), writes their
sessions to a scratch lake with the project's own writer, and times, for each fleet:

* **naive**      pandas reads the window, one global scikit-learn
                 ``DBSCAN(metric="haversine", algorithm="ball_tree")`` over every session,
                 pandas groupby for the site table (what a first version would do);
* **reference**  :func:`pipelines.sites.find_sites` on the window's sessions (micro-points,
                 partitioned weighted DBSCAN on unit vectors), no state;
* **catch-up**   deltas for every landing day up to day ``D-1``, then
                 :func:`pipelines.cellstate.find_sites_incremental` with no state yet;
* **daily**      the deltas of landing day ``D`` and the incremental run for day ``D``.

Every stage runs in its own Python process, so its peak RSS (``ru_maxrss``) is its own; the
imports alone (~150 MB) are in every number. ``--curve`` adds the daily cost against the
window length on one fleet.

Examples
--------
    python -m bench.run                                   # small, a few minutes
    python -m bench.run --vehicles 10000 100000 --days 35
    python -m bench.run --vehicles 30000 --days 57 --curve 7 14 28 56 --no-naive
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_VEHICLES = (3000, 10000)
FIRST_DAY = "2026-09-01"


# --------------------------------------------------------------------------------------------
# stages (each runs in a child process: `python -m bench.run --stage NAME --lake ... ...`)
# --------------------------------------------------------------------------------------------
def _stage_setup(a: argparse.Namespace) -> dict[str, Any]:
    import pyarrow as pa

    from bench.synth import World, sessions_for_days
    from pipelines.lake import write_sessions
    from pipelines.schema import SESSIONS_SCHEMA

    sessions = sessions_for_days(World(a.vehicles), FIRST_DAY, a.days)
    for landing, part in sessions.groupby("landing_day", sort=True):
        table = pa.Table.from_pandas(part, schema=SESSIONS_SCHEMA, preserve_index=False)
        write_sessions(a.lake, str(landing), table)
    return {"sessions_total": len(sessions)}


def _params(a: argparse.Namespace) -> Any:
    """ClusterParams with the command line's overrides (``--micro-res``, ``--no-split``,
    ``--no-rescue``)."""
    from pipelines.config import ClusterParams

    over: dict[str, Any] = {"micro_res": a.micro_res} if a.micro_res else {}
    if a.no_split:
        over["split_modes"] = False
    if a.no_rescue:
        over["rescue_min_sessions"] = 0.0
    return ClusterParams(**over)


def _window(day: str, window_days: int) -> tuple[str, str]:
    end = dt.date.fromisoformat(day)
    return (end - dt.timedelta(days=window_days - 1)).isoformat(), day


def _stage_naive(a: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.cluster import DBSCAN

    from pipelines.config import ClusterParams

    p = ClusterParams()
    first, last = _window(a.day, a.window)
    clock = time.perf_counter()
    files = [
        f
        for f in sorted(Path(a.lake, "sessions").glob("day=*/landing=*.parquet"))
        if first <= f.parent.name[4:] <= last and f.stem[8:] <= a.day
    ]
    s = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    s = s[~(s["gps_accuracy_m"] > p.max_gps_accuracy_m)]
    t_read = time.perf_counter() - clock
    clock = time.perf_counter()
    db = DBSCAN(
        eps=p.eps_m / 6_371_008.8,
        min_samples=p.min_samples,
        metric="haversine",
        algorithm="ball_tree",
    ).fit(np.radians(s[["lat", "lon"]].to_numpy()))
    t_cluster = time.perf_counter() - clock
    clock = time.perf_counter()
    s = s.assign(cluster=db.labels_, day=s["plug_in_utc"].dt.strftime("%Y-%m-%d"))
    s = s[s["cluster"] >= 0]
    sites = s.groupby("cluster").agg(
        lat=("lat", "mean"),
        lon=("lon", "mean"),
        sessions=("session_id", "size"),
        vehicles=("vehicle", "nunique"),
        first_seen=("day", "min"),
        last_seen=("day", "max"),
        max_power_kw=("max_power_kw", "max"),
    )
    t_sum = time.perf_counter() - clock
    return {
        "sessions_in_window": len(db.labels_),
        "sites": len(sites),
        "seconds": {"read": t_read, "cluster": t_cluster, "summarise": t_sum},
    }


def _stage_reference(a: argparse.Namespace) -> dict[str, Any]:
    from pipelines.classify import _local_rate, classify_sites, site_features
    from pipelines.config import ClassifyParams, RegistryParams
    from pipelines.lake import read_sessions
    from pipelines.refine import refine_sites
    from pipelines.registry import confirm_known, split_known_households
    from pipelines.sites import find_sites, place_poor_fixes

    first, last = _window(a.day, a.window)
    clock = time.perf_counter()
    s = read_sessions(a.lake, first, last, max_landing_day=a.day)
    t_read = time.perf_counter() - clock
    clock = time.perf_counter()
    sites, labels = find_sites(s, _params(a))
    t_find = time.perf_counter() - clock
    clock = time.perf_counter()  # seventeenth session: poor fixes to their likeliest sites
    sites, labels = place_poor_fixes(s, labels, sites, _params(a))
    t_poor = time.perf_counter() - clock
    clock = time.perf_counter()
    params = ClassifyParams()
    classified = classify_sites(site_features(s, labels, sites, params), params)
    t_classify = time.perf_counter() - clock
    clock = time.perf_counter()
    _local_rate(s, sites)  # the part of site_features added in the third session, timed alone
    t_local = time.perf_counter() - clock
    # thirteenth session: residences split off chargers; fifteenth: stations' fragments joined
    clock = time.perf_counter()
    refined = refine_sites(s, labels, classified, _params(a), params)
    classified = refined.classified
    t_refine = time.perf_counter() - clock
    # eighteenth and twenty-second sessions: the registry confirms held-back sites and gives
    # a household chained with a listed charger back to its home
    registry = _registry(a.vehicles)
    clock = time.perf_counter()
    confirmed, n_confirmed = confirm_known(classified, registry, RegistryParams(), 3)
    t_confirm = time.perf_counter() - clock
    clock = time.perf_counter()
    _, _, households = split_known_households(
        s, refined.labels, confirmed, registry, RegistryParams(), _params(a), params
    )
    t_households = time.perf_counter() - clock
    return {
        "sessions_in_window": len(s),
        "sites": len(sites),
        "split_off": refined.split,
        "joined": refined.joined,
        "public": int((classified["site_class"] == "public").sum()),
        "seconds": {
            "read": t_read,
            "find_sites": t_find,
            "place poor fixes": t_poor,
            "features+classify": t_classify,
            "(of which local demand)": t_local,
            "split/join+reclassify": t_refine,
            "registry confirm": t_confirm,
            "registry household split": t_households,
        },
        "registry_confirmed": n_confirmed,
        "households_split": households,
    }


def _registry(vehicles: int) -> Any:
    """The synthetic world's public stations as a registry, geocoded ~8 m off per axis."""
    import numpy as np
    import pandas as pd

    from bench.synth import CENTRE, M_PER_DEG, World

    xy = World(vehicles).station
    xy = xy + np.random.default_rng(7).normal(0.0, 8.0, xy.shape)
    return pd.DataFrame({
        "registry_id": [f"R{i}" for i in range(len(xy))],
        "lat": CENTRE[0] + xy[:, 1] / M_PER_DEG,
        "lon": CENTRE[1] + xy[:, 0] / (M_PER_DEG * np.cos(np.radians(CENTRE[0]))),
    })  # fmt: skip


def _stage_incremental(a: argparse.Namespace) -> dict[str, Any]:
    """Deltas for the landing days (a.landings), then the incremental run for a.day."""
    from pipelines.cellstate import find_sites_incremental, update_cell_state

    p = _params(a)
    clock = time.perf_counter()
    for landing in a.landings:
        update_cell_state(a.lake, landing, None, p)
    t_delta = time.perf_counter() - clock
    sites, _, stats = find_sites_incremental(a.lake, a.day, a.window, p)
    stats["seconds"] = {"deltas": t_delta, **stats["seconds"]}
    return {"sites": len(sites), **stats}


STAGES = {
    "setup": _stage_setup,
    "naive": _stage_naive,
    "reference": _stage_reference,
    "incremental": _stage_incremental,
}


#: imported before the clock starts: stage times are the work, not the interpreter's start-up
PRELOAD = {
    "setup": ["bench.synth", "pipelines.lake"],
    "naive": ["numpy", "pandas", "pyarrow.parquet", "sklearn.cluster"],
    "reference": [
        "pipelines.sites",
        "pipelines.lake",
        "pipelines.classify",
        "scipy.spatial",
        "scipy.sparse.csgraph",
    ],
    "incremental": ["pipelines.cellstate", "scipy.spatial", "scipy.sparse.csgraph"],
}


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process: steadier than wall time on a busy host."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _child(a: argparse.Namespace) -> None:
    for module in PRELOAD[a.stage]:
        importlib.import_module(module)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0 = _cpu_s()
    clock = time.perf_counter()
    out = STAGES[a.stage](a)
    out["wall_s"] = time.perf_counter() - clock
    out["cpu_s"] = _cpu_s() - cpu0
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["import_rss_mb"] = base / 1024
    print("BENCH-RESULT " + json.dumps(out))


#: extra arguments every stage gets (set by main from --micro-res)
STAGE_ARGS: list[str] = []


def _run(stage: str, lake: Path, **kw: Any) -> dict[str, Any]:
    """Run one stage in a fresh interpreter and return its JSON result."""
    argv = [sys.executable, "-m", "bench.run", "--stage", stage, "--lake", str(lake), *STAGE_ARGS]
    for key, value in kw.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag, *map(str, value)] if isinstance(value, list | tuple) else [flag, str(value)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = [x for x in done.stdout.splitlines() if x.startswith("BENCH-RESULT ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {"error": f"exit {done.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1].removeprefix("BENCH-RESULT "))


# --------------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------------
def _days(n: int) -> list[str]:
    d0 = dt.date.fromisoformat(FIRST_DAY)
    return [(d0 + dt.timedelta(days=i)).isoformat() for i in range(n)]


def _fmt_row(name: str, r: dict[str, Any], sessions: int) -> str:
    if "error" in r:
        return f"| {name} | failed: {r['error'][:120]} | | | | |"
    stages = ", ".join(f"{k} {v:.2f}" for k, v in r.get("seconds", {}).items())
    rate = sessions / r["wall_s"] if r["wall_s"] else float("nan")
    return (
        f"| {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {rate:,.0f} | "
        f"{r['peak_rss_mb']:,.0f} | {stages} |"
    )


def bench_fleet(vehicles: int, days: int, window: int, naive: bool, work: Path) -> list[str]:
    """Set up one fleet's lake and run every stage; returns Markdown lines."""
    lake = work / f"lake-{vehicles}"
    shutil.rmtree(lake, ignore_errors=True)
    setup = _run("setup", lake, vehicles=vehicles, days=days)
    if "error" in setup:
        return [f"setup failed for {vehicles} vehicles: {setup['error']}"]
    all_days = _days(days + 1)  # sessions of the last day land on it or the day after
    day, prev = all_days[days - 1], all_days[days - 2]
    catch = _run("incremental", lake, day=prev, window=window, landings=all_days[: days - 1])
    daily = _run("incremental", lake, day=day, window=window, landings=[day])
    ref = _run("reference", lake, day=day, window=window)
    rows = {"catch-up (to D-1)": catch, "daily (D)": daily, "reference find_sites (D)": ref}
    if naive:
        rows["naive baseline (D)"] = _run("naive", lake, day=day, window=window)
    n = ref.get("sessions_in_window", 0)
    out = [
        f"### {vehicles:,} vehicles, {days} days, window {window} days: "
        f"{n:,} sessions in the window at D; {setup['sessions_total']:,} generated",
        "",
        "| run | wall s | CPU s | sessions/s (wall) | peak RSS MB | stages (wall s) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    out += [_fmt_row(k, v, n) for k, v in rows.items()]
    if "state_rows" in daily:
        out += [
            "",
            f"daily: state rows {daily['state_rows']:,}, micro-points {daily['micro_points']:,}, "
            f"partitions {daily['partitions']} (re-clustered {daily['partitions_clustered']}), "
            f"deltas added {daily['deltas_added']}, expired {daily['deltas_expired']}, "
            f"max power recomputed for {daily['pmax_recomputed_rows']:,} rows",
        ]
    if "registry_confirmed" in ref:
        out += [
            "",
            f"reference: {ref['sites']:,} sites, {ref['split_off']} split off, "
            f"{ref['joined']} joined, registry confirmed {ref['registry_confirmed']}, "
            f"households split off them {ref['households_split']}",
        ]
    naive_r = rows.get("naive baseline (D)", {})
    if naive and "wall_s" in naive_r and "wall_s" in daily and "wall_s" in catch:
        out.append(
            f"speed-up vs naive (wall): daily {naive_r['wall_s'] / daily['wall_s']:.1f}x, catch-up "
            f"{naive_r['wall_s'] / catch['wall_s']:.1f}x; (CPU): daily "
            f"{naive_r['cpu_s'] / daily['cpu_s']:.1f}x, catch-up "
            f"{naive_r['cpu_s'] / catch['cpu_s']:.1f}x; peak RSS daily "
            f"{daily['peak_rss_mb']:,.0f} MB vs naive {naive_r['peak_rss_mb']:,.0f} MB"
        )
    out.append("")
    shutil.rmtree(lake, ignore_errors=True)
    return out


def bench_curve(vehicles: int, windows: list[int], work: Path) -> list[str]:
    """Daily-run cost against the window length, one fleet, one lake."""
    days = max(windows) + 1
    lake = work / f"lake-curve-{vehicles}"
    shutil.rmtree(lake, ignore_errors=True)
    _run("setup", lake, vehicles=vehicles, days=days)
    all_days = _days(days + 1)
    day, prev = all_days[days - 1], all_days[days - 2]
    _run("incremental", lake, day=prev, window=2, landings=all_days[: days - 1])  # deltas once
    out = [
        f"### daily run against the window, {vehicles:,} vehicles (new day ~"
        f"{int(vehicles * 0.33):,} sessions)",
        "",
        "| window days | sessions in window | state rows | micro-points | daily wall s | "
        "daily CPU s | peak RSS MB | reference CPU s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for w in windows:
        shutil.rmtree(lake / "cells" / "window", ignore_errors=True)
        _run("incremental", lake, day=prev, window=w, landings=[])
        daily = _run("incremental", lake, day=day, window=w, landings=[day])
        ref = _run("reference", lake, day=day, window=w)
        if "error" in daily or "error" in ref:
            out.append(f"| {w} | failed: {daily.get('error') or ref.get('error')} | | | | | | |")
            continue
        out.append(
            f"| {w} | {ref['sessions_in_window']:,} | {daily['state_rows']:,} | "
            f"{daily['micro_points']:,} | {daily['wall_s']:.2f} | {daily['cpu_s']:.2f} | "
            f"{daily['peak_rss_mb']:,.0f} | {ref['cpu_s']:.2f} |"
        )
    shutil.rmtree(lake, ignore_errors=True)
    return [*out, ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--vehicles", type=int, nargs="*", default=list(DEFAULT_VEHICLES))
    ap.add_argument("--days", type=int, default=35, help="days simulated (the daily run is D)")
    ap.add_argument("--window", type=int, default=90, help="window days (default 90)")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    ap.add_argument("--curve", type=int, nargs="*", help="window lengths for the cost curve")
    ap.add_argument("--curve-vehicles", type=int, default=10000)
    ap.add_argument("--work", help="scratch folder (default: a temporary one)")
    ap.add_argument("--micro-res", type=int, help="override ClusterParams.micro_res")
    ap.add_argument(
        "--no-rescue", action="store_true", help="no noise rescue (rescue_min_sessions 0)"
    )
    ap.add_argument(
        "--no-split", action="store_true", help="DBSCAN only (ClusterParams.split_modes off)"
    )
    # child-process arguments
    ap.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    ap.add_argument("--lake", help=argparse.SUPPRESS)
    ap.add_argument("--day", help=argparse.SUPPRESS)
    ap.add_argument("--landings", nargs="*", default=[], help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.stage:
        a.vehicles = a.vehicles[0] if a.vehicles else 0
        _child(a)
        return 0
    if a.micro_res:
        STAGE_ARGS.extend(["--micro-res", str(a.micro_res)])
    if a.no_split:
        STAGE_ARGS.append("--no-split")
    if a.no_rescue:
        STAGE_ARGS.append("--no-rescue")
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="chargepoints-bench-"))
    cmd = "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"## `{cmd.strip()}` ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)\n", flush=True)
    for v in a.vehicles:
        print("\n".join(bench_fleet(v, a.days, a.window, not a.no_naive, work)), flush=True)
    if a.curve:
        print("\n".join(bench_curve(a.curve_vehicles, a.curve, work)), flush=True)
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
