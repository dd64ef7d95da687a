"""The Prefect flow ``charge-sites-daily``: ingest -> discover -> identify -> publish -> report.

Thin wiring: every task calls one stage of :mod:`pipelines.steps` / :mod:`pipelines.ingest`,
passes folder paths and day keys (never DataFrames), owns retries and logging. Secrets never
travel as task parameters: tasks load keys themselves (see :mod:`pipelines.keys`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import fsspec
from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE, TASK_SOURCE, CacheKeyFnPolicy

from pipelines import steps
from pipelines.config import Paths, Settings
from pipelines.ingest import IngestCounts, ingest_landing_day, pending_landing_days
from pipelines.keys import load_hmac_key
from pipelines.lake import lake_lock, landing_days_to_report, mark_reported

FLOW_NAME = "charge-sites-daily"
ENV_TIMEZONE = "CHARGEPOINTS_TIMEZONE"
#: set (to 1) by an interactive caller such as the CLI: one progress line per stage on stderr
ENV_PROGRESS = "CHARGEPOINTS_PROGRESS"
#: optional names of Prefect Secret blocks holding the keys (see docs/operations.md)
ENV_HMAC_BLOCK = "CHARGEPOINTS_HMAC_KEY_BLOCK"
ENV_SIGNING_BLOCK = "CHARGEPOINTS_SIGNING_KEY_BLOCK"


def _transient(task, task_run, state) -> bool:
    """Retry storage hiccups (OSError, timeouts), never bad data or bugs."""
    try:
        state.result()
    except (OSError, TimeoutError) as exc:
        return not isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError)
    except Exception:  # a data or programming error: retrying cannot help
        return False
    return False


#: storage I/O: retried; not cached, because what these stages read is lake state that their
#: parameters (paths and a day) do not capture
STORAGE_TASK_OPTIONS = {
    "retries": 2,
    "retry_delay_seconds": [1, 5],
    "retry_condition_fn": _transient,
    "cache_policy": NO_CACHE,
}


def discover_inputs_key(context: Any, parameters: dict[str, Any]) -> str:
    """Cache key of :func:`discover_task`: everything its output is a function of.

    ``steps.discover`` reads the window's per-landing-day partitions from the lake
    (``sessions/day=*/landing=*.parquet``, and the incremental clustering's deltas
    ``cells/day=*/landing=*.parquet``, of landing days ``<= day``) and the settings, and runs the
    code of ``pipelines/`` and ``geo/``. The key hashes the lake's absolute path, the day, the
    settings, that code (:func:`code_fingerprint`) and the name, size and modification time of
    every ``<lake>/*/day=*/landing=*.parquet`` file of a landing day ``<= day`` (a superset of
    what the window reads: a change anywhere there is a cache miss, never a stale hit), and the
    sha256 of the registry file when one is given (it can overrule the rules).
    Re-ingesting a landing day rewrites its files, so it changes the key.
    """
    lake = Path(parameters["lake"]).resolve()
    day = parameters["day"]
    files = []
    for f in sorted(lake.glob("*/day=*/landing=*.parquet")):
        if f.stem.removeprefix("landing=") <= day:
            st = f.stat()
            files.append([str(f.relative_to(lake)), st.st_size, st.st_mtime_ns])
    settings = dataclasses.asdict(parameters["settings"])
    registry = parameters.get("registry")
    reg = None
    if registry:  # a path or fsspec URL, as --registry takes
        with fsspec.open(registry, "rb") as f:
            reg = hashlib.sha256(f.read()).hexdigest()
    blob = json.dumps(
        [str(lake), day, settings, code_fingerprint(), files, reg], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """sha256 of the ``pipelines`` and ``geo`` source: new code never reuses old results."""
    import geo
    import pipelines

    digest = hashlib.sha256()
    for package in (pipelines, geo):
        root = Path(package.__file__).parent
        for f in sorted(root.rglob("*.py")):
            digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def discover_outputs(lake: str, day: str) -> dict[str, str | None]:
    """sha256 of the files discover writes (None where missing), checked on a cache hit."""
    files = {
        "classified": steps.work_dir(lake, day) / steps.CLASSIFIED,
        "landed": steps.work_dir(lake, day) / steps.LANDED,
        "excluded": Path(lake) / "excluded" / f"{day}.parquet",
    }
    return {
        name: hashlib.sha256(f.read_bytes()).hexdigest() if f.exists() else None
        for name, f in files.items()
    }


@task(name="ingest-landing-day", **STORAGE_TASK_OPTIONS)
def ingest_task(landing: str, lake: str, landing_day: str, settings: Settings) -> dict[str, Any]:
    key = load_hmac_key(lake)
    counts = ingest_landing_day(landing, lake, landing_day, key.secret, settings.ingest)
    get_run_logger().info(
        "landing day %s: %d read, %d accepted, %d quarantined, %d duplicate, %d opted out",
        landing_day,
        counts.rows_read,
        counts.rows_accepted,
        counts.rows_quarantined,
        counts.rows_duplicate,
        counts.rows_opted_out,
    )
    return counts.as_dict()


@task(
    name="discover-sites",
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=_transient,
    # the expensive stage (clustering): a re-run of a day whose inputs did not change (a retried
    # flow run after a failed publish, a backfill over days already done) reuses its result
    cache_policy=TASK_SOURCE + CacheKeyFnPolicy(cache_key_fn=discover_inputs_key),
    persist_result=True,
    result_serializer="json",
)
def discover_task(lake: str, day: str, registry: str | None, settings: Settings) -> dict[str, Any]:
    from pipelines.registry import read_registry

    out = steps.discover(lake, day, settings, read_registry(registry) if registry else None)
    out["outputs"] = discover_outputs(lake, day)
    get_run_logger().info(
        "window %s..%s: %d sessions, %d sites found, %d public",
        *out["window"],
        out["sessions_in_window"],
        out["sites_found"],
        out["sites_public"],
    )
    return out


@task(name="identify-sites", **STORAGE_TASK_OPTIONS)
def identify_task(lake: str, day: str, registry: str | None, settings: Settings) -> dict[str, Any]:
    from pipelines.registry import read_registry

    reg = read_registry(registry) if registry else None
    out = steps.identify(lake, day, reg, settings)
    get_run_logger().info(
        "%d sites to publish (%d new, %d stale); registry %s",
        out["sites_published"],
        out["sites_new"],
        out["sites_stale"],
        out["registry"],
    )
    return out


@task(name="publish-day", **STORAGE_TASK_OPTIONS)
def publish_task(lake: str, publish: str, day: str) -> dict[str, Any]:
    out = steps.publish(lake, publish, day)
    logger = get_run_logger()
    if out.get("signing_key") == "generated":
        logger.warning(
            "no signing key configured: generated one at %s (owner-only); "
            "set CHARGEPOINTS_SIGNING_KEY to use your own",
            out["signing_key_path"],
        )
    logger.info("published %s to %s", day, publish)
    return out


@task(name="write-report", **STORAGE_TASK_OPTIONS)
def report_task(lake: str, day: str, report: dict[str, Any]) -> str:
    return steps.write_report(lake, day, report)


def resolve_day(date: str | None, now: dt.datetime | None = None) -> str:
    """``date`` validated, or the day before ``now`` in ``$CHARGEPOINTS_TIMEZONE`` (default UTC).

    ``now`` defaults to the flow run's scheduled start time (so a scheduled run that starts late,
    or is retried after midnight, still runs the day it was scheduled for), or the clock outside
    a flow run.

    >>> resolve_day("2026-11-24")
    '2026-11-24'
    >>> os.environ[ENV_TIMEZONE] = "Pacific/Kiritimati"  # UTC+14
    >>> resolve_day(None, dt.datetime(2026, 11, 24, 11, 0, tzinfo=dt.UTC))
    '2026-11-24'
    >>> del os.environ[ENV_TIMEZONE]
    >>> resolve_day(None, dt.datetime(2026, 11, 24, 11, 0, tzinfo=dt.UTC))
    '2026-11-23'
    """
    if date:
        return dt.date.fromisoformat(date).isoformat()
    tz = ZoneInfo(os.environ.get(ENV_TIMEZONE) or "UTC")
    if now is None:
        from prefect.runtime import flow_run

        now = flow_run.scheduled_start_time  # the clock outside a flow run
    return (now.astimezone(tz).date() - dt.timedelta(days=1)).isoformat()


@flow(name=FLOW_NAME, log_prints=True)
def charge_sites_daily(
    date: str | None = None,
    landing: str | None = None,
    lake: str | None = None,
    publish: str | None = None,
    registry: str | None = None,
) -> dict[str, Any]:
    """Ingest every landing day up to ``date`` not ingested yet, then publish the sites as of it.

    Parameters are those of ``chargepoints run`` (contract §2); unset folders come from
    ``CHARGEPOINTS_*`` environment variables or the defaults under ``data/``.
    """
    logger = get_run_logger()
    day = resolve_day(date)
    paths = Paths.from_env(landing=landing, lake=lake, publish=publish, registry=registry)
    settings = Settings.load()
    _secrets_from_blocks()
    stage_seconds: dict[str, float] = {}

    with lake_lock(paths.lake):
        if load_hmac_key(paths.lake).origin == "generated":
            logger.warning(
                "no pseudonymisation key configured: generated one beside the lake (owner-only); "
                "set CHARGEPOINTS_HMAC_KEY to use your own"
            )
        t = time.perf_counter()
        pending = pending_landing_days(paths.landing, paths.lake, day)
        for n, landing_day in enumerate(pending, start=1):
            got = ingest_task(paths.landing, paths.lake, landing_day, settings)
            _progress(f"ingest {n}/{len(pending)} {landing_day}: {got['rows_read']} rows read")
        stage_seconds["ingest"] = time.perf_counter() - t

        t = time.perf_counter()
        found = _discover(paths.lake, day, paths.registry, settings)
        stage_seconds["discover"] = time.perf_counter() - t
        _progress(f"discover: {found['sites_found']} sites, {found['sites_public']} public")

        t = time.perf_counter()
        ident = identify_task(paths.lake, day, paths.registry, settings)
        stage_seconds["identify"] = time.perf_counter() - t
        _progress(f"identify: {ident['sites_published']} to publish, {ident['sites_new']} new")

        t = time.perf_counter()
        published = publish_task(paths.lake, paths.publish, day)
        stage_seconds["publish"] = time.perf_counter() - t
        _progress(f"publish: {paths.publish.rstrip('/')}/{day}/")

        # the report counts every landing day no completed run has reported yet (a run killed
        # after ingesting leaves its days to the next one), not only what this run ingested
        to_report = landing_days_to_report(paths.lake, day)
        counts = IngestCounts()
        for _, marker in to_report:
            counts.add(IngestCounts(**marker["counts"]))
        reported = [d for d, _ in to_report]
        report = build_report(day, reported, counts, found, ident, published, stage_seconds)
        report["landing_days_ingested_by_this_run"] = pending
        report_path = report_task(paths.lake, day, report)
        mark_reported(paths.lake, reported, day)

    _artifacts(day, paths, report, report_path)
    return report


def _progress(line: str) -> None:
    """One line on stderr for a person watching (``$CHARGEPOINTS_PROGRESS``); logs go to Prefect."""
    if os.environ.get(ENV_PROGRESS, "") not in ("", "0"):
        # not print(): the flow's log_prints would turn it into a log record
        sys.stderr.write(f"chargepoints: {line}\n")
        sys.stderr.flush()


def _discover(lake: str, day: str, registry: str | None, settings: Settings) -> dict[str, Any]:
    """discover_task, reusing a cached result only while the files it wrote are unchanged."""
    state = discover_task(lake, day, registry, settings, return_state=True)
    found = state.result()
    if state.name == "Cached":
        if found.get("outputs") == discover_outputs(lake, day):
            get_run_logger().info("discover: inputs unchanged since an earlier run, result reused")
        else:
            get_run_logger().info("discover: cached result's files changed or missing, recomputing")
            found = discover_task.with_options(refresh_cache=True)(lake, day, registry, settings)
    return found


def build_report(
    day: str,
    ingested_days: list[str],
    counts: IngestCounts,
    found: dict[str, Any],
    ident: dict[str, Any],
    published: dict[str, Any],
    stage_seconds: dict[str, float],
) -> dict[str, Any]:
    """The run report (contract §4) plus what else an operator wants to see."""
    c = counts.as_dict()
    return {
        "date": day,
        "landing_days_ingested": ingested_days,
        "rows_read": c["rows_read"],
        "rows_accepted": c["rows_accepted"],
        "rows_quarantined": c["rows_quarantined"],
        "quarantine_reasons": c["quarantine_reasons"],
        "rows_duplicate": c["rows_duplicate"],
        "rows_opted_out": c["rows_opted_out"],
        "files_read": c["files_read"],
        "files_quarantined": c["files_quarantined"],
        "files_ignored": c["files_ignored"],
        "sessions_in_window": found["sessions_in_window"],
        "window": found["window"],
        "sites_found": found["sites_found"],
        "sites_split_from_residences": found["sites_split_from_residences"],
        "sites_joined_as_fragments": found["sites_joined_as_fragments"],
        "poor_fixes_placed": found["poor_fixes_placed"],
        "sites_confirmed_by_registry": found["sites_confirmed_by_registry"],
        "sites_published": ident["sites_published"],
        "sites_new": ident["sites_new"],
        "sites_stale": ident["sites_stale"],
        "sites_excluded": found["sites_excluded"],
        "sites_excluded_by_class": found["sites_excluded_by_class"],
        "registry": ident["registry"],
        "delta": {k: published.get(k) for k in ("added", "removed", "changed")},
        "stage_seconds": {k: round(v, 3) for k, v in stage_seconds.items()},
    }


def _secrets_from_blocks() -> None:
    """Fill key variables from Prefect Secret blocks named in the environment, if any."""
    from pipelines.config import ENV_HMAC_KEY, ENV_SIGNING_KEY

    for block_env, key_env in (
        (ENV_HMAC_BLOCK, ENV_HMAC_KEY),
        (ENV_SIGNING_BLOCK, ENV_SIGNING_KEY),
    ):
        name = os.environ.get(block_env)
        if name and not os.environ.get(key_env):
            from prefect.blocks.system import Secret

            os.environ[key_env] = Secret.load(name).get()


def _artifacts(day: str, paths: Paths, report: dict[str, Any], report_path: str) -> None:
    reasons = "".join(f"| {k} | {v} |\n" for k, v in report["quarantine_reasons"].items())
    excluded = "".join(f"| {k} | {v} |\n" for k, v in report["sites_excluded"].items())
    stages = "".join(f"| {k} | {v:.2f} |\n" for k, v in report["stage_seconds"].items())
    create_markdown_artifact(
        key="charge-sites-summary",
        description=f"chargepoints run for {day}",
        markdown=(
            f"# Charge sites {day}\n\n"
            f"Landing days ingested: {', '.join(report['landing_days_ingested']) or 'none'}\n\n"
            f"| rows | count |\n|---|---|\n| read | {report['rows_read']} |\n"
            f"| accepted | {report['rows_accepted']} |\n"
            f"| quarantined | {report['rows_quarantined']} |\n"
            f"| duplicate | {report['rows_duplicate']} |\n"
            f"| opted out | {report['rows_opted_out']} |\n\n"
            f"| quarantine reason | rows |\n|---|---|\n{reasons}\n"
            f"| sites | count |\n|---|---|\n| found | {report['sites_found']} |\n"
            f"| published | {report['sites_published']} |\n| new | {report['sites_new']} |\n"
            f"| stale | {report['sites_stale']} |\n\n"
            f"| excluded because | sites |\n|---|---|\n{excluded}\n"
            f"| stage | seconds |\n|---|---|\n{stages}\n"
            f"Report: `{report_path}`\n"
        ),
    )
    import pyarrow.parquet as pq

    published = pq.read_table(steps.work_dir(paths.lake, day) / steps.PUBLISHED).to_pandas()
    new = published[published["status"] == "new"]
    cols = [c for c in ("site_id", "lat", "lon", "sessions", "vehicles", "power_class") if c in new]
    create_table_artifact(
        key="charge-sites-new",
        table=new[cols].round({"lat": 5, "lon": 5}).to_dict(orient="records"),
        description=f"sites first published on {day}",
    )
    target = f"{paths.publish.rstrip('/')}/{day}/charge_sites.geojson"
    if "://" not in target:
        target = "file://" + os.path.abspath(target)
    create_link_artifact(key="charge-sites-geojson", link=target, description="published GeoJSON")
