"""Build ``docs/quality.md``: the pipeline and the naive baseline scored on simulated fleets.

For every (fleet size, seed): simulate, run ``chargepoints run`` for the last two landing days
(the first run catches up all earlier days), score the published output with :func:`evaluate`,
then publish and score the naive baseline on the same landing files. Usage::

    .venv/bin/python -m pipelines.sim.quality --work /tmp/quality --out docs/quality.md \\
        --fleets 400 60000 400x120 --seeds 1 2

A fleet is ``VEHICLES`` (the simulator's default 21 days) or ``VEHICLESxDAYS``: ``400x120``
is the small fleet over 120 days, so the daily run's 90-day window is full, as in production.

It calls the pipeline through its command line (a subprocess), so nothing here imports the
daily path. Simulations and per-method results are cached under ``--work``
(``v<N>-s<seed>/result-<method>.json``); ``--methods`` and ``--report-only`` let the slow parts
run separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.sim.baseline import write_baseline_publish
from pipelines.sim.config import SimConfig
from pipelines.sim.evaluate import evaluate
from pipelines.sim.simulate import simulate

COLUMNS = (
    ("recall", "recall"),
    ("precision", "precision"),
    ("leaks h/g/w", None),
    ("opted-out-only", "optout_only_published"),
    ("median m", "location_error_median_m"),
    ("p90 m", "location_error_p90_m"),
    ("split", "split_stations"),
    ("id stability", "id_stability"),
    ("registry acc.", "registry_accuracy"),
    ("sites", "published_sites"),
    ("targets", None),
)


def run_pipeline(sim_dir: Path, work: Path, days: list[str]) -> float:
    """``chargepoints run`` for each day; returns the wall-clock seconds."""
    exe = Path(sys.executable).parent / "chargepoints"
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    t0 = time.perf_counter()
    for day in days:
        cmd = [
            str(exe), "run", "--date", day, "--quiet",
            "--landing", str(sim_dir / "landing"),
            "--lake", str(work / "lake"),
            "--publish", str(work / "publish"),
            "--registry", str(sim_dir / "registry.csv"),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, env=env)
    return time.perf_counter() - t0


def parse_fleet(text: str) -> tuple[int, int]:
    """``"400"`` or ``"400x120"`` as (vehicles, days); days default to the simulator's.

    >>> parse_fleet("60000"), parse_fleet("400x120")
    ((60000, 21), (400, 120))
    """
    vehicles, _, days = text.partition("x")
    return int(vehicles), int(days) if days else SimConfig.days


def _scenario_dir(work: Path, vehicles: int, days: int, seed: int) -> Path:
    """``v400-s1`` for the default 21 days (the cache of earlier reports), else ``v400-d120-s1``."""
    span = "" if days == SimConfig.days else f"-d{days}"
    return work / f"v{vehicles}{span}-s{seed}"


def _simulated(work: Path, vehicles: int, seed: int, days: int) -> tuple[Path, dict[str, Any]]:
    """The scenario's simulation, reused when ``truth/summary.json`` shows the same config."""
    sim_dir = _scenario_dir(work, vehicles, days, seed) / "sim"
    cfg = SimConfig(out=str(sim_dir), vehicles=vehicles, seed=seed, days=days)
    summary_path = sim_dir / "truth" / "summary.json"
    if summary_path.exists():
        doc = json.loads(summary_path.read_text())
        same = (doc["vehicles"], doc["config"]["seed"], doc["config"]["days"])
        if same == (vehicles, seed, days):
            return sim_dir, doc
    shutil.rmtree(sim_dir.parent, ignore_errors=True)
    simulate(cfg)
    return sim_dir, json.loads(summary_path.read_text())


def scenario(
    work: Path, vehicles: int, seed: int, method: str, sim_days: int = SimConfig.days
) -> dict[str, Any]:
    """Score ``method`` (``pipeline`` or ``baseline``) on one simulated fleet; cached as JSON."""
    sim_dir, summary = _simulated(work, vehicles, seed, sim_days)
    last = dt.date.fromisoformat(summary["last_day"])
    days = [(last - dt.timedelta(days=1)).isoformat(), last.isoformat()]
    out_dir = sim_dir.parent / method
    shutil.rmtree(out_dir, ignore_errors=True)
    t0 = time.perf_counter()
    if method == "pipeline":
        run_pipeline(sim_dir, out_dir, days)
        publish = out_dir / "publish"
    else:
        write_baseline_publish(sim_dir / "landing", out_dir, days[-1], n_days=2)
        publish = out_dir
    secs = time.perf_counter() - t0
    m = evaluate(publish, sim_dir / "truth", days[-1])
    m.pop("missed_examples", None)
    name = "pipeline" if method == "pipeline" else "naive baseline"
    r = {"vehicles": vehicles, "sim_days": sim_days, "seed": seed, "sessions": summary["sessions"],
         "method": name, "seconds": round(secs, 1), **m}  # fmt: skip
    (sim_dir.parent / f"result-{method}.json").write_text(json.dumps(r, indent=1, sort_keys=True))
    return r


def _cell(r: dict[str, Any], label: str, key: str | None) -> str:
    if label == "leaks h/g/w":
        lk = r["leaks"]
        return f"{lk['home']}/{lk['apartment_garage']}/{lk['workplace']}"
    if label == "targets":
        met = sum(r["targets"].values())
        return f"{met}/{len(r['targets'])}"
    v = r.get(key)
    return "–" if v is None else str(v)


def markdown(results: list[dict[str, Any]], command: str) -> str:
    """The results as the quality report."""
    head = ["fleet", "days", "seed", "sessions", "method", *[c[0] for c in COLUMNS], "run s"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in results:
        days = str(r.get("sim_days", SimConfig.days))
        cells = [str(r["vehicles"]), days, str(r["seed"]), str(r["sessions"]), r["method"]]
        cells += [_cell(r, label, key) for label, key in COLUMNS]
        cells.append(str(r["seconds"]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nGenerated by:\n\n```\n{command}\n```\n"


BEGIN, END = "<!-- quality:begin -->", "<!-- quality:end -->"


def write_report(path: Path, table: str) -> None:
    """Put ``table`` between the BEGIN/END markers of ``path`` (text around them is kept)."""
    text = path.read_text() if path.exists() else f"# Discovery quality\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{BEGIN}\n{table}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/chargepoints-quality")
    ap.add_argument("--out", default=None, help="write the markdown table here")
    ap.add_argument("--json", default=None, help="write every metric here")
    ap.add_argument(
        "--fleets",
        "--vehicles",  # its name before fleets had days
        nargs="+",
        default=["400", "60000", "400x120"],
        help="VEHICLES or VEHICLESxDAYS (default days: the simulator's 21)",
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument(
        "--methods", nargs="+", default=["pipeline", "baseline"], choices=["pipeline", "baseline"]
    )
    ap.add_argument(
        "--report-only", action="store_true", help="only collect the cached results of earlier runs"
    )
    args = ap.parse_args(argv)
    work = Path(args.work)
    results: list[dict[str, Any]] = []
    for vehicles, days in map(parse_fleet, args.fleets):
        for seed in args.seeds:
            for method in ("pipeline", "baseline"):
                cached = _scenario_dir(work, vehicles, days, seed) / f"result-{method}.json"
                if method in args.methods and not args.report_only:
                    r = scenario(work, vehicles, seed, method, days)
                    print(
                        json.dumps(
                            {
                                k: r[k]
                                for k in (
                                    "vehicles",
                                    "sim_days",
                                    "seed",
                                    "method",
                                    "recall",
                                    "precision",
                                    "leaks_private",
                                )
                            }
                        ),
                        flush=True,
                    )
                elif cached.exists():
                    r = json.loads(cached.read_text())
                else:
                    continue
                results.append(r)
    command = "python -m pipelines.sim.quality " + " ".join(argv or sys.argv[1:])
    table = markdown(results, command)
    print(table)
    if args.out:
        write_report(Path(args.out), table)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
