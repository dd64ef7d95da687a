"""``prefect.yaml`` end to end: a real Prefect server, ``prefect deploy``, a process worker.

What an operator does (docs/operations.md), in a sandbox: start ``prefect server start`` on a free
port of 127.0.0.1 with its own PREFECT_HOME, create the process work pool ``chargepoints``, deploy
every deployment of the repository's ``prefect.yaml`` unchanged, trigger
``charge-sites-daily/daily`` with the folders pointed at ``tmp_path`` and the bundled sample's
landing, and let ``prefect worker start --pool chargepoints --run-once`` run it.

Expected:

* the three deployments exist; ``daily`` has the cron schedule ``30 4 * * *`` in Europe/Berlin,
  a concurrency limit of 1, the pool ``chargepoints`` and the folder defaults of ``prefect.yaml``;
* the server's scheduler creates upcoming runs of ``daily``, each at 04:30 Berlin time;
* the flow run ends ``COMPLETED`` and published ``<publish>/<date>/charge_sites.geojson`` (with at
  least one site), ``charge_sites.parquet``, ``nav/manifest.json`` and ``latest.json`` -> date;
* its artifacts (summary, new-sites table, GeoJSON link) are attached to the flow run.

Every process the test starts is ended (process group) even when it fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
POOL = "chargepoints"
#: the sample day to run: its catch-up ingests the sample's first five landing days only (about
#: 1,000 sessions, ten public sites at the time of writing)
RUN_OFFSET_DAYS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if still there after 10 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _kill_leftovers(home: Path) -> None:
    """SIGKILL any process still running with this test's own PREFECT_HOME in its environment.

    Flow runs of a process worker get a session of their own, so ending the worker's process
    group does not reach a flow run left over by a timeout; the unique temporary PREFECT_HOME
    identifies exactly the processes this test started.
    """
    needle = f"PREFECT_HOME={home}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            environ = (proc / "environ").read_bytes().split(b"\0")
            if needle in environ and int(proc.name) != os.getpid():
                os.kill(int(proc.name), signal.SIGKILL)


class Server:
    """A ``prefect server start`` subprocess and the environment to talk to it."""

    def __init__(self, home: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/api"
        self.log = home / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHARGEPOINTS_")}
        env.update(
            PREFECT_HOME=str(home),
            PREFECT_API_URL=self.url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_LOGGING_LEVEL="INFO",
            CHARGEPOINTS_HOME=str(REPO),  # prefect.yaml's pull step: run from this checkout
            # the scheduler creates the schedule's upcoming runs within seconds, not a minute
            PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="5",
        )
        self.env = env

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run ``prefect ARGS`` from the repository; fail with its output if it fails."""
        done = subprocess.run(
            [PREFECT, *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def get(self, path: str) -> dict:
        return httpx.get(self.url + path, timeout=10).raise_for_status().json()

    def post(self, path: str, body: dict) -> list | dict:
        return httpx.post(self.url + path, json=body, timeout=10).raise_for_status().json()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "prefect-home"
    home.mkdir()
    port = _free_port()
    srv = Server(home, port)
    with srv.log.open("w") as log:
        proc = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
            env=srv.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        started = time.monotonic()
        deadline = started + 180  # seconds on an idle machine, over a minute on a busy one
        while True:
            assert proc.poll() is None, f"server exited:\n{srv.log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(srv.url + "/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"no health:\n{srv.log.read_text()[-3000:]}"
            time.sleep(0.5)
        print(f"server healthy after {time.monotonic() - started:.1f} s")
        yield srv
    finally:
        _stop(proc)
        _kill_leftovers(home)


def test_daily_deployment_runs_through_a_process_worker(server, sample_dir, sample_date, tmp_path):
    t0 = time.monotonic()
    server.cli("work-pool", "create", POOL, "--type", "process")
    server.cli("--no-prompt", "deploy", "--all", timeout=180)
    print(f"pool + deploy: {time.monotonic() - t0:.1f} s")

    deployments = {
        d["name"]: d
        for d in server.post("/deployments/filter", {"limit": 50})
        if d["work_pool_name"] == POOL
    }
    assert set(deployments) == {"daily", "backfill", "retention"}
    daily = deployments["daily"]
    (schedule,) = daily["schedules"]
    assert schedule["schedule"] == {
        "cron": "30 4 * * *",
        "timezone": "Europe/Berlin",
        "day_or": True,
    }
    assert schedule["active"]
    assert daily["global_concurrency_limit"]["limit"] == 1
    assert daily["parameters"] == {
        "landing": "data/landing",
        "lake": "data/lake",
        "publish": "data/publish",
        "registry": None,
    }
    assert daily["job_variables"]["env"]["CHARGEPOINTS_TIMEZONE"] == "Europe/Berlin"

    first = min(p.name for p in (sample_dir / "landing").iterdir() if p.is_dir())
    day = (dt.date.fromisoformat(first) + dt.timedelta(days=RUN_OFFSET_DAYS)).isoformat()
    assert day <= sample_date
    lake, publish = tmp_path / "lake", tmp_path / "publish"
    out = server.cli(
        "deployment",
        "run",
        "charge-sites-daily/daily",
        "--param",
        f"date={day}",
        "--param",
        f"landing={sample_dir / 'landing'}",
        "--param",
        f"lake={lake}",
        "--param",
        f"publish={publish}",
        "--param",
        f"registry={sample_dir / 'registry.csv'}",
    )
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", out).group(1)
    print(f"+ deployment run: {time.monotonic() - t0:.1f} s")

    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as log:
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", POOL, "--run-once", "--name", "test-worker"],
            cwd=tmp_path,
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        worker.wait(timeout=240)
    finally:
        _stop(worker)

    print(f"+ worker --run-once: {time.monotonic() - t0:.1f} s")
    run = server.get(f"/flow_runs/{run_id}")
    assert run["state_type"] == "COMPLETED", worker_log.read_text()[-5000:]

    published = publish / day
    fc = json.loads((published / "charge_sites.geojson").read_text())
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) >= 1
    assert (published / "charge_sites.parquet").stat().st_size > 0
    assert json.loads((published / "nav" / "manifest.json").read_text())["date"] == day
    assert json.loads((publish / "latest.json").read_text())["date"] == day
    assert (lake / "reports" / f"{day}.json").exists()

    artifacts = server.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}, "limit": 20}
    )
    by_key = {a["key"]: a for a in artifacts}
    assert set(by_key) == {"charge-sites-summary", "charge-sites-new", "charge-sites-geojson"}
    assert by_key["charge-sites-new"]["type"] == "table"
    # Prefect stores a link artifact as markdown: [text](url)
    assert f"{published / 'charge_sites.geojson'})" in by_key["charge-sites-geojson"]["data"]

    # the schedule is live: the scheduler has created upcoming runs at 04:30 in Berlin
    deadline = time.monotonic() + 60
    while True:
        upcoming = server.post(
            "/flow_runs/filter",
            {
                "deployments": {"id": {"any_": [daily["id"]]}},
                "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
                "limit": 10,
            },
        )
        if upcoming or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert upcoming, "the server's scheduler created no run for the daily schedule"
    for r in upcoming:
        start = dt.datetime.fromisoformat(r["expected_start_time"]).astimezone(
            ZoneInfo("Europe/Berlin")
        )
        assert (start.hour, start.minute) == (4, 30) and start > dt.datetime.now(dt.UTC)
