"""``chargepoints``: the command line (contract §2).

    chargepoints run --date YYYY-MM-DD [--landing DIR] [--lake DIR] [--publish DIR-or-URL]
                     [--registry FILE]

Exit status: 0 success (quarantined rows included), 2 usage or input error (one line on stderr),
3 another run holds the lake, 1 any other failure (previous published output left intact).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.config import Paths

EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_FAILED = 1


class UsageError(Exception):
    """Bad arguments or unusable inputs: exit 2 with one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chargepoints", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="ingest new landing days and publish the sites as of --date")
    run.add_argument("--date", required=True, help="the run's date, YYYY-MM-DD")
    run.add_argument(
        "--landing", help="landing folder (default $CHARGEPOINTS_LANDING or data/landing)"
    )
    run.add_argument("--lake", help="lake folder (default $CHARGEPOINTS_LAKE or data/lake)")
    run.add_argument(
        "--publish", help="publish folder or URL (default $CHARGEPOINTS_PUBLISH or data/publish)"
    )
    run.add_argument("--registry", help="CSV of known charge points: registry_id,lat,lon[,name]")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    run.add_argument("--verbose", action="store_true", help="show Prefect's own log on the console")
    run.set_defaults(func=cmd_run)

    for module in ("pipelines.sim.cli", "pipelines.publish.cli", "pipelines.view.cli"):
        __import__(module, fromlist=["register"]).register(sub)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    day = _check_date(args.date)
    paths = Paths.from_env(
        landing=args.landing, lake=args.lake, publish=args.publish, registry=args.registry
    )
    if not Path(paths.landing).is_dir():
        raise UsageError(f"landing folder not found: {paths.landing}")
    if paths.registry:
        from pipelines.registry import RegistryError, read_registry

        try:
            read_registry(paths.registry)
        except (RegistryError, OSError) as exc:
            raise UsageError(f"unreadable registry {paths.registry}: {exc}") from None

    # Prefect's console log (with tracebacks on failure) only on request; it is always kept in
    # the Prefect run logs. Must be set before Prefect is imported.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if args.verbose else "CRITICAL")
    if not args.quiet:  # one progress line per stage on stderr (flows/daily.py)
        os.environ.setdefault("CHARGEPOINTS_PROGRESS", "1")
    from flows.daily import charge_sites_daily  # imports Prefect: only once arguments are sound
    from pipelines.keys import KeyConfigError
    from pipelines.lake import lake_lock

    try:
        # held before Prefect starts: a second run fails at once with one line (exit 3)
        with lake_lock(paths.lake):
            report = charge_sites_daily(
                date=day,
                landing=paths.landing,
                lake=paths.lake,
                publish=paths.publish,
                registry=paths.registry,
            )
    except KeyConfigError as exc:
        raise UsageError(f"key configuration: {exc}") from None
    if not args.quiet:
        print(
            f"{day}: {report['rows_read']} rows read ({report['rows_accepted']} accepted, "
            f"{report['rows_quarantined']} quarantined, {report['rows_duplicate']} duplicate, "
            f"{report['rows_opted_out']} opted out); {report['sites_found']} sites found, "
            f"{report['sites_published']} published ({report['sites_new']} new) "
            f"-> {paths.publish}/{day}/"
        )
    return 0


def _check_date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise UsageError(f"--date must be a calendar date YYYY-MM-DD, got {value!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's ephemeral server gets 20 s to start by default: too little on a busy 2-core box.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"chargepoints: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("chargepoints: interrupted; the last published day is intact", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place that turns failures into one line + exit status
        from pipelines.lake import LakeBusyError

        if isinstance(exc, LakeBusyError):
            print(f"chargepoints: {exc}", file=sys.stderr)
            return EXIT_BUSY
        logging.getLogger("chargepoints").debug("run failed", exc_info=True)
        detail = json.dumps(str(exc))[1:-1][:300]
        print(
            f"chargepoints: run failed: {type(exc).__name__}: {detail} "
            "(the previously published day is intact; details in the Prefect run logs)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
