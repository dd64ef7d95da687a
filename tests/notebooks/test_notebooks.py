"""The analyst notebooks run top to bottom on what ``make run`` produces from the bundled sample.

The fixture runs the real command line twice, as the daily schedule would: ``chargepoints run``
for the day before the sample's last day, then for the last day, into a temporary lake and
publish folder. Every notebook then executes in a fresh kernel of this venv with
``CHARGEPOINTS_PUBLISH``/``CHARGEPOINTS_LAKE`` pointing there. The notebooks carry their own
checks (``assert`` cells): the review table holds no positions, ``delta.json`` agrees with the
two days' tables, the run reports' row counts add up.

Expected: all three run without error; notebook 1 counts the sites the run report says were
published; notebook 3 finds the previous day and the delta check runs against it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: daily runs before the sample's last day. 1 gives notebook 03 a real previous day (its delta
#: check then runs against two tables); 0 saves one run (~25 s CPU) and checks less.
DAYS_BEFORE_LAST = 1


def test_there_are_the_three_notebooks() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_sites_map.ipynb", "02_classifier_review.ipynb", "03_changes.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    """Outputs would carry data (and diffs) into git: clear them before committing."""
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (path.name, cell.id)


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("chargepoints")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "flows.cli"]


@pytest.fixture(scope="session")
def sample_outputs(
    tmp_path_factory: pytest.TempPathFactory, sample_dir: Path, sample_date: str
) -> dict[str, str]:
    """Lake and publish folders after the daily runs up to the sample's last day."""
    root = tmp_path_factory.mktemp("notebooks-run")
    env = {
        **os.environ,
        "PREFECT_HOME": str(root / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # the ephemeral API server can take > 20 s to start on a busy 2-core machine
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    env.pop("PREFECT_API_URL", None)
    folders = {"lake": str(root / "lake"), "publish": str(root / "publish")}
    last = dt.date.fromisoformat(sample_date)
    days = [(last - dt.timedelta(days=n)).isoformat() for n in range(DAYS_BEFORE_LAST, -1, -1)]
    args = ["--landing", str(sample_dir / "landing")]
    args += ["--registry", str(sample_dir / "registry.csv")]
    args += ["--lake", folders["lake"], "--publish", folders["publish"], "--quiet"]
    for day in days:
        proc = subprocess.run(
            [*_cli(), "run", "--date", day, *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, f"chargepoints run --date {day}: {proc.stderr[-3000:]}"
    return {**folders, "day": sample_date, "previous": days[-2] if len(days) > 1 else "None"}


def _execute(path: Path, monkeypatch: pytest.MonkeyPatch, outputs: dict[str, str]):
    from nbclient import NotebookClient

    monkeypatch.setenv("CHARGEPOINTS_PUBLISH", outputs["publish"])
    monkeypatch.setenv("CHARGEPOINTS_LAKE", outputs["lake"])
    monkeypatch.delenv("CHARGEPOINTS_DAY", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(
        book,
        timeout=300,
        kernel_name="python3",  # the venv's kernel: jupyter_client runs it with sys.executable
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()
    return book


def _text(book) -> str:
    """Everything the notebook printed or displayed as text."""
    parts = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
            parts.append(out.get("data", {}).get("text/html", ""))
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_sample(
    path: Path, sample_outputs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    book = _execute(path, monkeypatch, sample_outputs)
    text = _text(book)
    day = sample_outputs["day"]
    report = json.loads((Path(sample_outputs["lake"]) / "reports" / f"{day}.json").read_text())
    if path.stem.startswith("01"):
        assert f"{report['sites_published']} public sites published on {day}" in text
        assert "leaflet" in text.lower()  # the interactive folium map was rendered
    elif path.stem.startswith("02"):
        assert f"{report['sites_found']} sites found" in text
    elif path.stem.startswith("03"):
        assert f"looking at {day}, previous {sample_outputs['previous']}" in text
