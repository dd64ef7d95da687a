"""``chargepoints fetch URL --out DIR``: the reference consumer, wired into the main CLI.

The lead's ``chargepoints`` argparse CLI calls :func:`register` with its subparsers; every
subcommand sets ``func=callable(args) -> int`` (the exit status).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.publish.fetch import FetchError, fetch

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fetch`` subcommand."""
    p = subparsers.add_parser(
        "fetch",
        help="download the latest published day over HTTP and verify signature and hashes",
        description=(
            "Fetch <URL>/latest.json, the day's signed manifest and every file it names; verify "
            "the Ed25519 signature with the public key only and each file's size and sha256; "
            "write them under --out. Exit 1 with one line on any mismatch."
        ),
    )
    p.add_argument("url", help="publish root served over HTTP(S), e.g. http://host/publish")
    p.add_argument("--out", required=True, help="local folder to mirror into")
    p.add_argument(
        "--public-key",
        help="publisher's key: base64 of the raw 32 bytes, or a file holding it "
        "(default: the key pinned in --out, else the server's on first use)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    p.set_defaults(func=run_fetch)


def run_fetch(args: argparse.Namespace) -> int:
    """Run ``fetch``; print one summary line, or one error line on stderr and return 1."""
    key = args.public_key
    if key is not None and Path(key).is_file():
        key = Path(key).read_text("ascii").strip()
    try:
        result = fetch(args.url, args.out, public_key=key, timeout=args.timeout)
    except FetchError as e:
        print(f"chargepoints fetch: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # the local side: --out not writable, disk full
        print(f"chargepoints fetch: error: {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(
        f"fetched {result['date']}: {result['files']} files verified, "
        f"{result['downloaded']} bytes downloaded, key: {result['key_source']}"
    )
    return 0
