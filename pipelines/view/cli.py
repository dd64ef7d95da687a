"""``chargepoints view``: serve the nav-bundle viewer over a local publish folder.

Wired into the main command line by ``flows/cli.py`` through :func:`register`; also runnable on
its own as ``python -m pipelines.view``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import webbrowser
from pathlib import Path

from pipelines.config import Paths
from pipelines.view.server import PUBLISH_PREFIX, latest_day, make_server

__all__ = ["main", "register", "run"]

DEFAULT_PORT = 8765


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``view`` subcommand to an argparse ``add_subparsers()`` object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The new subparser; its defaults carry ``func=run`` (``func(args) -> int``).
    """
    parser = subparsers.add_parser(
        "view",
        help="serve the map viewer of a published nav bundle on 127.0.0.1",
        description=(
            "Serve the static MapLibre viewer and the publish folder on 127.0.0.1 and open a "
            "browser on the day's nav bundle. Nothing is fetched from the internet."
        ),
    )
    parser.add_argument(
        "--publish",
        default=None,
        help="local publish folder (default: $CHARGEPOINTS_PUBLISH or data/publish)",
    )
    parser.add_argument(
        "--day", default=None, help="YYYY-MM-DD to show (default: the date in latest.json)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0: any)"
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="only serve; print the URL to open"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted.

    Returns
    -------
    int
        0 after Ctrl-C; 2 on a usage error (no such folder, no published day, bad date, port in
        use), with one line on stderr.
    """
    publish = Path(Paths.from_env(publish=args.publish).publish)
    if "://" in str(args.publish or "") or not publish.is_dir():
        return _usage_error(f"publish folder not found (must be a local folder): {publish}")
    day = args.day or latest_day(publish)
    if day is None:
        return _usage_error(f"no published day: {publish / 'latest.json'} missing; pass --day")
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return _usage_error(f"--day must be YYYY-MM-DD, got {day!r}")
    if not (publish / day / "nav" / "manifest.json").is_file():
        nav = publish / day / "nav"
        return _usage_error(f"no nav bundle for {day}: {nav} has no manifest.json")
    try:
        server = make_server(publish, port=args.port)
    except OSError as err:
        return _usage_error(f"cannot listen on 127.0.0.1:{args.port}: {err.strerror or err}")
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}/?day={day}"
    print(f"viewer: {url}  (publish folder {publish.resolve()} at {PUBLISH_PREFIX}; Ctrl-C stops)")
    sys.stdout.flush()
    if not args.no_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _usage_error(message: str) -> int:
    print(f"chargepoints view: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m pipelines.view [--publish DIR] ...``."""
    parser = argparse.ArgumentParser(prog="chargepoints")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["view", *(argv if argv is not None else sys.argv[1:])])
    return args.func(args)
