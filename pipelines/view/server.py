"""A local HTTP server for the nav-bundle viewer.

It serves two trees on one origin, read-only:

* ``/`` – the static viewer (``pipelines/view/static``: HTML, JS and the vendored MapLibre GL JS
  and PMTiles builds), so no request leaves the machine;
* ``/publish/`` – the publish folder (``<publish>/latest.json``, ``<publish>/<day>/nav/...``).

The PMTiles JS reader fetches the archive in pieces with HTTP ``Range`` requests, which
:class:`http.server.SimpleHTTPRequestHandler` ignores; :class:`ViewerHandler` answers a single
``bytes=`` range with ``206 Partial Content`` (or ``416`` when it starts past the end) and sends a
strong ``ETag``, as the reader expects.

>>> server = make_server(".", port=0)
>>> server.server_address[0]
'127.0.0.1'
>>> server.server_close()
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import threading
import urllib.parse
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "STATIC_DIR",
    "ByteRange",
    "ViewerHandler",
    "latest_day",
    "make_server",
    "parse_range",
    "serve_in_thread",
]

#: the built viewer shipped with the package
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: URL prefix under which the publish folder is served
PUBLISH_PREFIX = "/publish/"
#: files of the static tree that are never served (npm bookkeeping, a local node_modules)
_HIDDEN_STATIC = ("node_modules", "package.json", "package-lock.json", ".gitignore")

_CONTENT_TYPES = {
    ".pmtiles": "application/vnd.pmtiles",
    ".geojson": "application/geo+json",
    ".json": "application/json",
    ".sig": "text/plain; charset=utf-8",
    ".pub": "text/plain; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")
_CHUNK = 1 << 16

ByteRange = tuple[int, int]


def parse_range(header: str | None, size: int) -> ByteRange | str | None:
    """Resolve an HTTP ``Range`` header against a file of ``size`` bytes.

    Parameters
    ----------
    header : str or None
        The request's ``Range`` header value.
    size : int
        The resource's length in bytes.

    Returns
    -------
    tuple of (int, int), None or str
        ``(start, end)`` inclusive for one satisfiable range (an end past the file is clamped to
        the last byte, per RFC 9110); ``None`` when the whole file should be sent (no header, or
        one this server does not honour, such as several ranges); ``"unsatisfiable"`` when the
        range starts at or past the end.

    Examples
    --------
    >>> parse_range("bytes=0-9", 100)
    (0, 9)
    >>> parse_range("bytes=90-", 100)
    (90, 99)
    >>> parse_range("bytes=-10", 100)
    (90, 99)
    >>> parse_range("bytes=0-16383", 100)
    (0, 99)
    >>> parse_range("bytes=100-200", 100)
    'unsatisfiable'
    >>> parse_range("bytes=0-1,5-6", 100) is None
    True
    >>> parse_range(None, 100) is None
    True
    """
    if not header:
        return None
    match = _RANGE_RE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return (max(size - length, 0), size - 1) if size > 0 else "unsatisfiable"
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # syntactically invalid: ignore the header (RFC 9110 §14.1.1)
    if start >= size:
        return "unsatisfiable"
    return (start, end)


def latest_day(publish_dir: str | os.PathLike[str]) -> str | None:
    """The date ``<publish>/latest.json`` points at, or ``None`` where there is none.

    Parameters
    ----------
    publish_dir : path-like
        A local publish folder.

    Returns
    -------
    str or None
        ``YYYY-MM-DD``.
    """
    path = Path(publish_dir) / "latest.json"
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["date"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ViewerHandler(BaseHTTPRequestHandler):
    """Serves the static viewer at ``/`` and a publish folder at ``/publish/``, with ranges."""

    server_version = "chargepoints-view"
    protocol_version = "HTTP/1.1"
    #: set per server class by :func:`make_server`
    publish_dir: Path = Path(".")
    static_dir: Path = STATIC_DIR
    quiet: bool = True

    # --------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            super().log_message(format, *args)

    # --------------------------------------------------------------------------------------
    def _resolve(self) -> Path | None:
        """Map the request path onto a file inside one of the two roots, or ``None``."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path.startswith(PUBLISH_PREFIX):
            root, rel = self.publish_dir, path[len(PUBLISH_PREFIX) :]
        else:
            root, rel = self.static_dir, path.lstrip("/") or "index.html"
            if rel.split("/", 1)[0] in _HIDDEN_STATIC:
                return None
        root = root.resolve()
        target = (root / rel).resolve()
        if target != root and root not in target.parents:
            return None  # path traversal
        if target.is_dir():
            target = target / "index.html"
        return target if target.is_file() else None

    def _serve(self, *, send_body: bool) -> None:
        target = self._resolve()
        if target is None:
            self._send_error(HTTPStatus.NOT_FOUND)
            return
        stat = target.stat()
        size = stat.st_size
        etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
        byte_range = parse_range(self.headers.get("Range"), size)
        if byte_range == "unsatisfiable":
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.send_header("ETag", etag)
            self.end_headers()
            return
        if byte_range is None:
            start, end = 0, size - 1
            self.send_response(HTTPStatus.OK)
        else:
            start, end = byte_range
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Type", _content_type(target))
        self.send_header("Content-Length", str(max(end - start + 1, 0)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", formatdate(stat.st_mtime, usegmt=True))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if send_body and end >= start:
            with target.open("rb") as f:
                f.seek(start)
                _copy_exact(f, self.wfile, end - start + 1)

    def _send_error(self, status: HTTPStatus) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _content_type(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _CONTENT_TYPES:
        return _CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _copy_exact(src: BinaryIO, dst: BinaryIO, length: int) -> None:
    """Copy ``length`` bytes from one binary file to another, in chunks."""
    remaining = length
    while remaining > 0:
        chunk = src.read(min(_CHUNK, remaining))
        if not chunk:
            break
        dst.write(chunk)
        remaining -= len(chunk)


def make_server(
    publish_dir: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    static_dir: str | os.PathLike[str] = STATIC_DIR,
    quiet: bool = True,
) -> ThreadingHTTPServer:
    """Bind (but do not start) a viewer server.

    Parameters
    ----------
    publish_dir : path-like
        A local publish folder (``<publish>/latest.json``, ``<publish>/<day>/nav/``).
    host : str
        Address to bind; loopback by default: the viewer is for the local user.
    port : int
        TCP port; ``0`` picks a free one (read it from ``server.server_address[1]``).
    static_dir : path-like
        The viewer's files; the shipped build by default.
    quiet : bool
        Suppress the per-request access log.

    Returns
    -------
    http.server.ThreadingHTTPServer
        Call ``serve_forever()`` (or use :func:`serve_in_thread`), then ``server_close()``.
    """
    handler = type(
        "BoundViewerHandler",
        (ViewerHandler,),
        {"publish_dir": Path(publish_dir), "static_dir": Path(static_dir), "quiet": quiet},
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Run ``server.serve_forever()`` in a daemon thread; stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, name="chargepoints-view", daemon=True)
    thread.start()
    return thread
