"""Operator flows around the daily run: a backfill over a date range, and retention."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from flows.daily import STORAGE_TASK_OPTIONS, charge_sites_daily, resolve_day
from pipelines.config import Paths, Settings
from pipelines.lake import lake_lock
from pipelines.retention import apply_retention


@flow(name="charge-sites-backfill")
def charge_sites_backfill(
    start: str,
    end: str,
    landing: str | None = None,
    lake: str | None = None,
    publish: str | None = None,
    registry: str | None = None,
) -> list[dict[str, Any]]:
    """Run the daily flow for every date from ``start`` to ``end``, in order, one at a time."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if last < first:
        raise ValueError(f"backfill end {end} is before its start {start}")
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    progress = create_progress_artifact(
        0.0, key="charge-sites-backfill", description=f"backfill {start}..{end}: 0/{len(days)}"
    )
    reports = []
    for n, day in enumerate(days, start=1):
        reports.append(
            charge_sites_daily(
                date=day, landing=landing, lake=lake, publish=publish, registry=registry
            )
        )
        update_progress_artifact(
            progress, 100.0 * n / len(days), description=f"backfill {start}..{end}: {n}/{len(days)}"
        )
        get_run_logger().info("backfilled %s (%d/%d)", day, n, len(days))
    return reports


@task(name="apply-retention", **STORAGE_TASK_OPTIONS)
def retention_task(landing: str, lake: str, day: str, settings: Settings) -> dict[str, Any]:
    with lake_lock(lake):
        result = apply_retention(landing, lake, day, settings.retention, settings.window_days)
    return result.__dict__


@flow(name="charge-sites-retention")
def charge_sites_retention(
    date: str | None = None, landing: str | None = None, lake: str | None = None
) -> dict[str, Any]:
    """Delete raw data and lake partitions older than the configured retention (see docs)."""
    day = resolve_day(date)
    paths = Paths.from_env(landing=landing, lake=lake)
    result = retention_task(paths.landing, paths.lake, day, Settings.load())
    get_run_logger().info(
        "retention as of %s: %d landing days deleted, %d quarantine files redacted, "
        "%d lake paths deleted",
        day,
        len(result["landing_days_deleted"]),
        len(result["quarantine_redacted"]),
        len(result["lake_paths_deleted"]),
    )
    return result
