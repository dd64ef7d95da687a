"""The command line: usage and input errors exit 2 with one line on stderr and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import main


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    (tmp_path / "landing" / "2026-11-24").mkdir(parents=True)
    return tmp_path / "landing"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--date", "2026-13-01"], "--date must be a calendar date"),
        (["run", "--date", "24.11.2026"], "--date must be a calendar date"),
        (["run", "--date", "2026-11-24", "--landing", "nowhere"], "landing folder not found"),
        (["run", "--date", "2026-11-24", "--registry", "missing.csv"], "unreadable registry"),
        (["run", "--date", "2026-11-24", "--registry", "bad.csv"], "unreadable registry"),
        (["run"], "required: --date"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message, landing, tmp_path):
    """Expected: exit status 2, exactly one stderr line naming the problem, no traceback."""
    (tmp_path / "bad.csv").write_text("registry_id,lat,lon\nr1,north,east\n")
    if "--landing" not in args and args[:1] == ["run"]:
        args = [*args, "--landing", str(landing)]
    proc = run_cli(*args, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def test_main_returns_2_in_process(landing, capsys):
    assert main(["run", "--date", "nope", "--landing", str(landing)]) == 2
    assert "calendar date" in capsys.readouterr().err
