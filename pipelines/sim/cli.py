"""``chargepoints simulate`` and ``chargepoints evaluate``: wiring only, the work is elsewhere.

The lead's CLI calls :func:`register` with its argparse sub-parsers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from pipelines.sim.config import REGIONS, SimConfig


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from e


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` and ``evaluate`` sub-commands."""
    d = SimConfig()
    p = subparsers.add_parser(
        "simulate",
        help="simulate a connected-car fleet: landing files, registry and ground truth",
        description="Write OUT/landing/<day>/, OUT/registry.csv, OUT/truth/ and OUT/LAST_DATE.",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--vehicles", type=int, default=d.vehicles)
    p.add_argument("--days", type=int, default=d.days, help="session/landing days")
    p.add_argument("--start", type=_date, default=d.start, help="first day, YYYY-MM-DD")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--region", choices=sorted(REGIONS), default=d.region)
    p.add_argument("--radius-km", type=float, default=None, help="override the region's radius")
    p.add_argument("--corrupt-share", type=float, default=d.corrupt_share)
    p.add_argument("--duplicate-share", type=float, default=d.share_duplicate)
    p.add_argument("--opted-out-share", type=float, default=d.share_opted_out)
    p.add_argument("--late-share", type=float, default=d.share_late)
    p.add_argument(
        "--neighbourhoods",
        type=int,
        default=d.neighbourhoods,
        help="residential neighbourhoods (fewer = denser homes)",
    )
    p.add_argument(
        "--friend-nearest",
        type=int,
        default=None,
        metavar="K",
        help="friends' homes among the K homes nearest a vehicle (the model until the "
        "eighteenth session: 20 reproduces fleets made then; default: gravity law)",
    )
    p.set_defaults(func=_simulate)

    e = subparsers.add_parser(
        "evaluate",
        help="score a publish folder against a simulation's ground truth",
        description="Print a quality table and optionally write it as JSON.",
    )
    e.add_argument("--publish", help="publish folder (contract §3) to score")
    e.add_argument("--truth", required=True, help="the simulation's truth/ folder (or its parent)")
    e.add_argument("--date", type=_date, default=None, help="day to score (default: latest.json)")
    e.add_argument("--json", dest="json_out", default=None, help="write the metrics here")
    e.add_argument(
        "--baseline",
        action="store_true",
        help="score the naive baseline (one global DBSCAN) built from --landing instead",
    )
    e.add_argument("--landing", default=None, help="landing folder for --baseline")
    e.set_defaults(func=_evaluate)


def _simulate(args: argparse.Namespace) -> int:
    from pipelines.sim.simulate import simulate

    cfg = SimConfig(
        out=args.out,
        vehicles=args.vehicles,
        days=args.days,
        start=args.start,
        seed=args.seed,
        region=args.region,
        radius_km=args.radius_km,
        corrupt_share=args.corrupt_share,
        share_duplicate=args.duplicate_share,
        share_opted_out=args.opted_out_share,
        share_late=args.late_share,
        neighbourhoods=args.neighbourhoods,
        friend_candidates=args.friend_nearest,
    )
    try:
        s = simulate(cfg)
    except ValueError as err:
        print(f"chargepoints simulate: {err}", file=sys.stderr)
        return 2
    print(
        f"{s.sessions} sessions of {s.vehicles} vehicles -> {s.rows_written} rows "
        f"in {s.files} files over {s.landing_days} landing days (last {s.last_day}); "
        f"{s.corrupted} corrupted, "
        f"{s.duplicates} duplicates, {s.opted_out_rows} opted-out rows; {s.seconds:.1f} s"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from pipelines.sim.evaluate import evaluate, format_table

    truth = Path(args.truth)
    if (
        not (truth / "stations.parquet").exists()
        and (truth / "truth" / "stations.parquet").exists()
    ):
        truth = truth / "truth"
    if not (truth / "stations.parquet").exists():
        print(
            f"chargepoints evaluate: no truth/stations.parquet under {args.truth}", file=sys.stderr
        )
        return 2
    day = args.date.isoformat() if args.date else None
    if args.baseline:
        from pipelines.sim.baseline import write_baseline_publish

        landing = Path(args.landing or truth.parent / "landing")
        if not landing.is_dir():
            print(f"chargepoints evaluate: no landing folder {landing}", file=sys.stderr)
            return 2
        publish = Path(args.publish or truth.parent / "baseline_publish")
        write_baseline_publish(landing, publish, last_day=day)
    elif not args.publish:
        print("chargepoints evaluate: --publish is required (or --baseline)", file=sys.stderr)
        return 2
    else:
        publish = Path(args.publish)
    try:
        metrics = evaluate(publish, truth, day)
    except (FileNotFoundError, ValueError) as err:
        print(f"chargepoints evaluate: {err}", file=sys.stderr)
        return 2
    print(format_table(metrics))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry: ``python -m pipelines.sim.cli simulate ...``."""
    ap = argparse.ArgumentParser(prog="chargepoints-sim")
    register(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
