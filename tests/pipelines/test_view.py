"""The nav-bundle viewer: range-capable server, ``chargepoints view`` CLI, and a real browser.

The browser test drives headless Chromium (Debian package ``chromium``) through its DevTools
protocol: it opens the viewer, waits until MapLibre reports the map idle with the sites rendered,
and takes a PNG screenshot. It is skipped, with the reason, where no Chromium is installed.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.publish import publish_day
from pipelines.view import cli
from pipelines.view.server import latest_day, make_server, parse_range, serve_in_thread

DAY = "2026-11-24"
#: viewer colours per power class (pipelines/view/static/viewer.js COLORS)
COLORS = {"dc": (0xE4, 0x57, 0x2E), "ac": (0x2E, 0x86, 0xDE), "mixed": (0x8E, 0x44, 0xAD)}


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------
def _sites() -> list[dict]:
    """Twelve public sites on a 4 x 3 grid in Boston (~1.2 km x 1 km): 4 of each power class
    (dc/ac/mixed cycling), statuses new/active/stale/new in runs of three, so every class has at
    least two sites that are not stale (stale ones are drawn faded)."""
    return [
        {
            "site_id": f"site-{i:02d}",
            "status": ("new", "active", "stale")[(i // 3) % 3],
            "sessions": 10 + i,
            "vehicles": 3 + i,
            "power_class": ("dc", "ac", "mixed")[i % 3],
            "first_seen": "2026-10-01",
            "last_seen": "2026-11-20",
            "known": bool(i % 2),
            "registry_id": f"R{i}" if i % 2 else None,
            "lat": 42.36 + 0.004 * (i % 4),
            "lon": -71.06 + 0.005 * (i // 4),
        }
        for i in range(12)
    ]


@pytest.fixture(scope="module")
def publish_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A publish folder holding one day (2026-11-24) with the twelve sites of :func:`_sites`,
    written by the real publisher (GeoJSON, GeoParquet, nav bundle, latest.json)."""
    root = tmp_path_factory.mktemp("publish")
    publish_day(
        pd.DataFrame(_sites()),
        day=DAY,
        publish_root=str(root),
        signing_key=Ed25519PrivateKey.generate(),
    )
    return root


def _archive(publish_dir: Path) -> str:
    """The day's PMTiles file, as the viewer finds it: through the manifest."""
    manifest = json.loads((publish_dir / DAY / "nav" / "manifest.json").read_text())
    names = [f["name"] for f in manifest["files"] if f["name"].endswith(".pmtiles")]
    assert len(names) == 1, manifest
    return f"{DAY}/nav/{names[0]}"


@pytest.fixture(scope="module")
def base_url(publish_dir: Path):
    """The viewer server over ``publish_dir`` on a free loopback port."""
    server = make_server(publish_dir, port=0)
    serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


# --------------------------------------------------------------------------------------------
# pure: range parsing
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-16383", 16384, (0, 16383)),
        ("bytes=0-16383", 6000, (0, 5999)),  # PMTiles' first read on a small archive: clamped
        ("bytes=127-200", 6000, (127, 200)),
        ("bytes=5990-", 6000, (5990, 5999)),
        ("bytes=-100", 6000, (5900, 5999)),
        ("bytes=-10000", 6000, (0, 5999)),
        ("bytes=6000-6001", 6000, "unsatisfiable"),
        ("bytes=-0", 6000, "unsatisfiable"),
        ("bytes=10-5", 6000, None),  # invalid: ignored, whole file
        ("bytes=0-1, 4-5", 6000, None),  # several ranges: not honoured, whole file
        ("items=0-1", 6000, None),
        ("", 6000, None),
    ],
)
def test_parse_range(header: str, size: int, expected: object) -> None:
    assert parse_range(header, size) == expected


def test_latest_day(tmp_path: Path) -> None:
    assert latest_day(tmp_path) is None
    (tmp_path / "latest.json").write_text('{"date": "2026-11-24", "version": 3}')
    assert latest_day(tmp_path) == "2026-11-24"


# --------------------------------------------------------------------------------------------
# the server, over real HTTP
# --------------------------------------------------------------------------------------------
@pytest.mark.integration
def test_server_serves_ranges_of_the_archive(base_url: str, publish_dir: Path) -> None:
    """Byte ranges of the PMTiles archive come back as 206 with exact bytes and Content-Range."""
    path = _archive(publish_dir)
    data = (publish_dir / path).read_bytes()
    size = len(data)

    status, headers, body = _get(f"{base_url}/publish/{path}", {"Range": "bytes=0-126"})
    assert (status, body) == (206, data[:127])
    assert body[:7] == b"PMTiles"
    assert headers["Content-Range"] == f"bytes 0-126/{size}"
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["ETag"].startswith('"')  # strong: the PMTiles reader ignores weak ones

    status, headers, body = _get(f"{base_url}/publish/{path}", {"Range": "bytes=0-16383"})
    assert (status, body) == (206, data)  # clamped to the file, as the reader expects
    assert headers["Content-Range"] == f"bytes 0-{size - 1}/{size}"

    status, _, body = _get(f"{base_url}/publish/{path}", {"Range": "bytes=-5"})
    assert (status, body) == (206, data[-5:])

    status, headers, body = _get(f"{base_url}/publish/{path}", {"Range": f"bytes={size}-"})
    assert (status, body, headers["Content-Range"]) == (416, b"", f"bytes */{size}")

    status, headers, body = _get(f"{base_url}/publish/{path}")
    assert (status, body, headers["Content-Length"]) == (200, data, str(size))

    head = urllib.request.Request(f"{base_url}/publish/{path}", method="HEAD")
    with urllib.request.urlopen(head, timeout=10) as response:
        assert (response.status, response.read()) == (200, b"")
        assert response.headers["Content-Length"] == str(size)


@pytest.mark.integration
def test_server_serves_viewer_and_publish_tree_only(base_url: str) -> None:
    status, headers, body = _get(f"{base_url}/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"vendor/maplibre-gl.js" in body and b"vendor/pmtiles.js" in body
    for asset in ("vendor/maplibre-gl.js", "vendor/pmtiles.js", "viewer.js", "viewer.css"):
        assert _get(f"{base_url}/{asset}")[0] == 200, asset
    status, _, body = _get(f"{base_url}/publish/latest.json")
    assert (status, json.loads(body)["date"]) == (200, DAY)
    # nothing outside the two roots, no npm bookkeeping
    assert _get(f"{base_url}/publish/../../etc/passwd")[0] == 404
    assert _get(f"{base_url}/publish/%2e%2e/%2e%2e/etc/passwd")[0] == 404
    assert _get(f"{base_url}/package.json")[0] == 404
    assert _get(f"{base_url}/publish/{DAY}/nope.json")[0] == 404


# --------------------------------------------------------------------------------------------
# the CLI
# --------------------------------------------------------------------------------------------
def _view_args(**kw: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    argv = ["view", "--no-browser"]
    for key, value in kw.items():
        argv += [f"--{key}", str(value)]
    return parser.parse_args(argv)


def test_cli_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(_view_args(publish=tmp_path / "missing")) == 2
    assert "publish folder not found" in capsys.readouterr().err
    assert cli.run(_view_args(publish=tmp_path)) == 2
    assert "latest.json missing" in capsys.readouterr().err
    assert cli.run(_view_args(publish=tmp_path, day="24/11/2026")) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert cli.run(_view_args(publish=tmp_path, day=DAY)) == 2
    assert "no nav bundle" in capsys.readouterr().err


@pytest.mark.integration
def test_cli_serves_until_stopped(publish_dir: Path) -> None:
    """``python -m pipelines.view`` prints the URL of latest.json's day and serves it."""
    argv = ["--publish", str(publish_dir), "--port", "0", "--no-browser"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.view", *argv],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        line = proc.stdout.readline()
        url = line.split()[1]
        assert url.startswith("http://127.0.0.1:") and url.endswith(f"/?day={DAY}")
        assert _get(url)[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# a real browser
# --------------------------------------------------------------------------------------------
def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Chromium:
    """Headless Chromium driven over the DevTools protocol (websockets ships with Prefect)."""

    def __init__(self, binary: str, profile: Path, size: tuple[int, int] = (900, 700)) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",  # we run as root in CI
                "--use-angle=swiftshader",  # software WebGL: no GPU here
                "--enable-unsafe-swiftshader",
                "--no-first-run",
                "--disable-extensions",
                f"--window-size={size[0]},{size[1]}",
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._id = 0

    def __enter__(self) -> _Chromium:
        from websockets.sync.client import connect

        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json", timeout=2) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port within 30 s")
            time.sleep(0.2)
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=64 << 20)
        return self

    def __exit__(self, *exc: object) -> None:
        self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def call(self, method: str, **params: object) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


def _count_colour(png: bytes, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """Pixels of the PNG within ``tolerance`` of ``rgb`` in every channel."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int((np.abs(pixels - np.array(rgb, dtype=np.int16)) <= tolerance).all(axis=-1).sum())


@pytest.mark.integration
@pytest.mark.slow
def test_viewer_shows_the_sites_in_chromium(base_url: str, tmp_path: Path) -> None:
    """All 12 sites are drawn; the screenshot holds DC, AC and mixed coloured dots on the map;
    a click on site-00 (DC, new) opens its properties; a malformed ?day= shows an error.

    The panel's legend holds one small dot of each colour (~100 px), so the map must add many
    more pixels of each colour than that.
    """
    binary = _find_chromium()
    if binary is None:
        pytest.skip("no Chromium found (install it: apt-get install -y chromium)")
    with _Chromium(binary, tmp_path / "profile") as browser:
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=900,
            height=700,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.call("Page.navigate", url=f"{base_url}/?day={DAY}")
        deadline = time.monotonic() + 120  # generous: CI machines are busy
        state: dict = {}
        while time.monotonic() < deadline:
            state = json.loads(browser.evaluate("JSON.stringify(window.viewerState || {})") or "{}")
            if state.get("status") in ("ready", "error"):
                break
            time.sleep(0.25)
        assert state.get("status") == "ready", state
        assert state["day"] == DAY and state["layers"] == ["charge_sites"]
        # every site is on screen, alone or counted in a low-zoom dot's point_count
        assert state["represented"] == 12, state
        png = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
        # clicking a site opens a popup with its published properties
        site = _sites()[0]
        xy = f"viewerMap.project([{site['lon']}, {site['lat']}])"
        point = browser.evaluate(f"[{xy}.x, {xy}.y]")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            browser.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=point[0],
                y=point[1],
                button="left",
                clickCount=1,
            )
        popup = ""
        while time.monotonic() < deadline and site["site_id"] not in popup:
            time.sleep(0.2)
            popup = browser.evaluate(
                "(document.querySelector('.maplibregl-popup') || {}).textContent || ''"
            )
        assert site["site_id"] in popup and "dc" in popup and "vehicles" in popup, popup
        browser.call("Page.navigate", url=f"{base_url}/?day=not-a-day")
        error = None
        while time.monotonic() < deadline and not error:
            time.sleep(0.2)
            error = browser.evaluate("window.viewerState && window.viewerState.error")
        assert "YYYY-MM-DD" in error
    out = Path(os.environ.get("CHARGEPOINTS_VIEW_SCREENSHOT", tmp_path / "viewer.png"))
    out.write_bytes(png)
    legend_only = 150
    for power_class, rgb in COLORS.items():
        assert _count_colour(png, rgb) > legend_only + 200, (power_class, out)
