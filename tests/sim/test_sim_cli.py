"""``simulate`` and ``evaluate`` through argparse, as the main CLI wires them."""

from __future__ import annotations

import argparse
import json

from pipelines.sim.cli import register


def _run(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    register(ap.add_subparsers(dest="command", required=True))
    args = ap.parse_args(argv)
    return args.func(args)


def test_simulate_then_evaluate_the_baseline(tmp_path, capsys):
    """30 vehicles, 4 days: exit 0, LAST_DATE is the 4th day, the baseline is scored to JSON."""
    out = tmp_path / "sim"
    argv = ["simulate", "--out", str(out), "--vehicles", "30", "--days", "4"]
    assert _run([*argv, "--start", "2026-03-01", "--seed", "9"]) == 0
    assert (out / "LAST_DATE").read_text().strip() == "2026-03-04"
    assert "sessions of 30 vehicles" in capsys.readouterr().out
    js = tmp_path / "m.json"
    assert _run(["evaluate", "--truth", str(out), "--baseline", "--json", str(js)]) == 0
    m = json.loads(js.read_text())
    assert m["date"] == "2026-03-04" and "recall" in m and "targets" in m
    assert "precision" in capsys.readouterr().out


def test_evaluate_usage_errors_exit_2(tmp_path, capsys):
    """No truth folder, or truth without --publish/--baseline: exit 2 with one line."""
    assert _run(["evaluate", "--truth", str(tmp_path), "--publish", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "truth" in err
