"""What a run leaves in Prefect: artifacts, and the discover cache, read back through the client.

A tiny landing day (2026-11-20, one CSV written by :func:`write_tiny_landing`), 45 rows:

* public sites A and B: 6 and 5 vehicles x 3 DC quick-charge sessions (50 kW, 40 min, daytime,
  18-20 Nov);
* home H: one vehicle, 8 overnight AC sessions (7 kW, 10 h) -> found but excluded;
* 2 broken rows (latitude 200; plug-out before plug-in) -> quarantined;
* 1 opted-out row, 1 row re-sent verbatim -> opted out, duplicate.

Expected: the run of 2026-11-20 reads 45 rows (41 accepted, 2 quarantined, 1 duplicate,
1 opted out), publishes A and B as ``new``; its summary artifact says so with the exclusion
reasons and stage times, its table artifact lists exactly the two published ids, its link
artifact points at the published GeoJSON. The run of 2026-11-21 (nothing new) publishes both as
``active`` and an empty new-sites table. Running 2026-11-21 again reuses the cached discover
result; after its output file is deleted, the next run recomputes it instead.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

pytestmark = [pytest.mark.slow]

DAY1, DAY2 = "2026-11-20", "2026-11-21"
SITES = {"A": (42.36010, -71.05890, 6), "B": (42.39000, -71.10000, 5)}
HOME = (42.33000, -71.02000)
HEADER = ["vehicle_id", "session_id", "plug_in_at", "plug_out_at", "lat", "lon"]
HEADER += ["energy_kwh", "max_power_kw", "opt_in"]


def _row(vehicle, session, plug_in, plug_out, lat, lon, kwh=25.0, kw=50.0, opt_in="true"):
    return [vehicle, session, plug_in, plug_out, lat, lon, kwh, kw, opt_in]


def write_tiny_landing(root: Path) -> Path:
    """The landing folder described in the module docstring; returns ``root``."""
    rows = []
    for name, (lat, lon, vehicles) in SITES.items():
        for v in range(vehicles):
            for k in range(3):
                hour = f"2026-11-{18 + k}T{9 + v:02d}"
                plug = (f"{hour}:05:00-05:00", f"{hour}:45:00-05:00")
                jitter = (v - k) * 1e-5  # ~1 m
                rows.append(_row(f"car-{name}{v}", f"{name}{v}-{k}", *plug, lat + jitter, lon))
    for k in range(8):
        night = (f"2026-11-{10 + k}T19:30:00-05:00", f"2026-11-{11 + k}T05:30:00-05:00")
        rows.append(_row("car-home", f"H-{k}", *night, *HOME, kwh=30.0, kw=7.0))
    ten, eleven = "2026-11-18T10:00:00-05:00", "2026-11-18T11:00:00-05:00"
    rows.append(_row("car-x", "bad-lat", ten, eleven, 200.0, -71.0))
    rows.append(_row("car-x", "bad-order", eleven, ten, 42.3, -71.0))
    rows.append(_row("car-o", "opted-out", ten, eleven, 42.3, -71.0, opt_in="false"))
    rows.append(rows[0])  # re-sent verbatim
    folder = root / DAY1
    folder.mkdir(parents=True)
    with (folder / "upload.csv").open("w", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return root


@pytest.fixture(scope="module")
def runs(prefect_harness, tmp_path_factory):
    """Three runs over one lake: DAY1, DAY2, DAY2 again; their states and folders."""
    from flows.daily import charge_sites_daily

    root = tmp_path_factory.mktemp("artifacts")
    folders = {
        "landing": str(write_tiny_landing(root / "landing")),
        "lake": str(root / "lake"),
        "publish": str(root / "publish"),
    }
    states = [
        charge_sites_daily(date=day, **folders, return_state=True) for day in (DAY1, DAY2, DAY2)
    ]
    return root, folders, states


def _artifacts(flow_run_id) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found}


def _task_state(flow_run_id, name: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    (run,) = [r for r in runs if r.name.startswith(name)]
    return run.state


def _table(artifact) -> list[dict]:
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


def test_runs_complete_with_the_expected_counts(runs):
    _, _, states = runs
    assert all(s.is_completed() for s in states)
    first = states[0].result()
    assert (first["rows_read"], first["rows_accepted"]) == (45, 41)
    assert (first["rows_quarantined"], first["rows_duplicate"], first["rows_opted_out"]) == (
        2,
        1,
        1,
    )
    assert (first["sites_published"], first["sites_new"]) == (2, 2)
    assert first["sites_found"] == 3 and sum(first["sites_excluded_by_class"].values()) == 1


def test_summary_artifact_reports_rows_sites_reasons_and_stage_times(runs):
    _, _, states = runs
    report = states[0].result()
    md = _artifacts(states[0].state_details.flow_run_id)["charge-sites-summary"]
    assert md.type == "markdown"
    text = md.data
    for row in ("| read | 45 |", "| quarantined | 2 |", "| duplicate | 1 |", "| opted out | 1 |"):
        assert row in text
    assert "| published | 2 |" in text and "| new | 2 |" in text and "| stale | 0 |" in text
    for reason, n in report["quarantine_reasons"].items():
        assert f"| {reason} | {n} |" in text
    assert report["sites_excluded"], "the home is excluded for at least one reason"
    for reason, n in report["sites_excluded"].items():
        assert f"| {reason} | {n} |" in text
    for stage in ("ingest", "discover", "identify", "publish"):
        assert f"| {stage} | " in text
    assert "car-" not in text  # no vehicle id, clear or otherwise


def test_new_sites_table_lists_exactly_the_new_published_sites(runs):
    root, _, states = runs
    fc = json.loads((root / "publish" / DAY1 / "charge_sites.geojson").read_text())
    table = _table(_artifacts(states[0].state_details.flow_run_id)["charge-sites-new"])
    assert sorted(r["site_id"] for r in table) == sorted(f["id"] for f in fc["features"])
    assert len(table) == 2
    assert all(set(r) >= {"site_id", "lat", "lon", "sessions", "vehicles"} for r in table)
    assert not any("vehicle" == k for r in table for k in r)
    # the next day nothing is new: an empty table, the two sites are active
    fc2 = json.loads((root / "publish" / DAY2 / "charge_sites.geojson").read_text())
    assert {f["properties"]["status"] for f in fc2["features"]} == {"active"}
    assert _table(_artifacts(states[1].state_details.flow_run_id)["charge-sites-new"]) == []


def test_link_artifact_points_at_the_published_geojson(runs):
    root, _, states = runs
    link = _artifacts(states[0].state_details.flow_run_id)["charge-sites-geojson"]
    url = link.data[link.data.index("(") + 1 : link.data.rindex(")")]
    assert urlparse(url).scheme == "file"
    path = Path(url2pathname(urlparse(url).path))
    assert path == root / "publish" / DAY1 / "charge_sites.geojson" and path.exists()


def test_discover_result_is_reused_only_while_inputs_and_outputs_are_unchanged(runs):
    from flows.daily import charge_sites_daily

    root, folders, states = runs
    assert _task_state(states[1].state_details.flow_run_id, "discover-sites").name != "Cached"
    assert _task_state(states[2].state_details.flow_run_id, "discover-sites").name == "Cached"
    assert states[2].result()["sites_published"] == states[1].result()["sites_published"]

    for name in ("classified.parquet", "landed.json"):  # what identify reads from discover
        written = root / "lake" / "work" / DAY2 / name
        before = written.read_bytes()
        written.unlink()
        again = charge_sites_daily(date=DAY2, **folders, return_state=True)
        assert again.is_completed() and written.read_bytes() == before, name


def test_backfill_runs_each_day_in_order_and_shows_progress(prefect_harness, tmp_path):
    """Backfill DAY1..DAY2 on a fresh lake: two daily reports, and a progress artifact at 100 %."""
    from prefect.client.orchestration import get_client

    from flows.maintenance import charge_sites_backfill

    landing = write_tiny_landing(tmp_path / "landing")
    state = charge_sites_backfill(
        start=DAY1,
        end=DAY2,
        landing=str(landing),
        lake=str(tmp_path / "lake"),
        publish=str(tmp_path / "publish"),
        return_state=True,
    )
    reports = state.result()
    assert [r["date"] for r in reports] == [DAY1, DAY2]
    assert [r["sites_new"] for r in reports] == [2, 0]
    assert json.loads((tmp_path / "publish" / "latest.json").read_text())["date"] == DAY2
    with get_client(sync_client=True) as client:
        (progress,) = [
            a
            for a in client.read_artifacts()
            if a.type == "progress" and a.flow_run_id == state.state_details.flow_run_id
        ]
    assert progress.data == 100.0 and progress.key == "charge-sites-backfill"
