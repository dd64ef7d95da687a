"""The daily run's stages as functions of (lake path, day, settings): what Prefect tasks call.

Each stage reads its inputs from the lake, calls the pure steps, writes its output to the lake
and returns a small JSON-able summary, so the flow passes paths and counts, never DataFrames.

    ingest   landing/<d>/*         -> sessions/, quarantine/, keys/, ingested/<d>.json
    discover sessions (window)     -> work/<day>/classified.parquet, excluded/<day>.parquet
    identify classified + history  -> state/sites/<day>.parquet, work/<day>/published.parquet
    publish  published             -> <publish>/<day>/..., <publish>/latest.json
    report   the summaries         -> reports/<day>.json
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geo.cluster import Mapper, dask_mapper
from pipelines import lake as lk
from pipelines.cellstate import find_sites_incremental
from pipelines.classify import classify_sites, excluded_for_review, site_features
from pipelines.config import Settings
from pipelines.identity import (
    assign_identity,
    landed_share,
    read_history,
    recent_use,
    write_history,
)
from pipelines.keys import load_signing_key
from pipelines.publish import publish_day
from pipelines.refine import refine_sites
from pipelines.registry import confirm_known, match_registry, split_known_households
from pipelines.sites import place_poor_fixes, session_days, session_labels

CLASSIFIED = "classified.parquet"
LANDED = "landed.json"  # landed_share of the window's uploads, for identify's quiet days
PUBLISHED = "published.parquet"


def work_dir(lake: str | Path, day: str) -> Path:
    return Path(lake) / "work" / day


def window_bounds(day: str, window_days: int) -> tuple[str, str]:
    """First and last session day of the window ending on ``day`` (inclusive).

    >>> window_bounds("2026-11-24", 90)
    ('2026-08-27', '2026-11-24')
    """
    end = dt.date.fromisoformat(day)
    return (end - dt.timedelta(days=window_days - 1)).isoformat(), end.isoformat()


class Classified(NamedTuple):
    """:func:`classify_window`'s result: the classified sites, each session's site, and how
    many poor fixes were placed, sites split off residences, fragments joined and held-back
    sites confirmed by the registry."""

    classified: pd.DataFrame
    labels: npt.NDArray[np.int64]
    placed: int
    split: int
    joined: int
    confirmed: int


def classify_window(
    sessions: pd.DataFrame,
    sites: pd.DataFrame,
    clustered: npt.ArrayLike,
    settings: Settings,
    registry: pd.DataFrame | None = None,
) -> Classified:
    """Everything ``discover`` does between clustering and writing, in memory.

    Poor fixes go to the site they most likely came from; the sites are classified by the
    rules; residences are split off chargers and stations' fragments joined (classified again
    after each); a held-back site alone on a known public charge point is confirmed by the
    ``registry``, and a household chained with it split off. ``sites`` and ``clustered``
    come from :func:`pipelines.sites.find_sites` (or its incremental equal). The developer
    tools (``pipelines.sim.census``) call this too, so what they show is what the daily run
    publishes.
    """
    clustered = np.asarray(clustered, dtype=np.int64)
    # each poor fix to the site it most likely came from (a station's fringe, not a home's)
    sites, labels = place_poor_fixes(sessions, clustered, sites, settings.cluster)
    features = site_features(sessions, labels, sites, settings.classify)
    classified = classify_sites(features, settings.classify)
    # a residence chained with the charger next to it split off, a station's fringe of poor
    # fixes joined into its site; classified again after each
    refined = refine_sites(sessions, labels, classified, settings.cluster, settings.classify)
    # a known public charge point the rules held back (a local sleeping at its charger)
    classified, confirmed = confirm_known(
        refined.classified, registry, settings.registry, settings.classify.min_vehicles
    )
    # ...without the home chained with it
    classified, final, households = split_known_households(
        sessions, refined.labels, classified, registry, settings.registry,
        settings.cluster, settings.classify,
    )  # fmt: skip
    return Classified(
        classified,
        final,
        int((labels != clustered).sum()),
        refined.split + households,
        refined.joined,
        confirmed,
    )


def discover(
    lake: str | Path, day: str, settings: Settings, registry: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Cluster the window's sessions into sites and classify them.

    ``registry`` (:func:`pipelines.registry.read_registry`) overrules the rules where a held-back
    site sits alone on a known public charge point (:func:`pipelines.registry.confirm_known`).
    """
    first, last = window_bounds(day, settings.window_days)
    sessions = lk.read_sessions(lake, first, last, max_landing_day=day)
    # incremental: per-(cell, vehicle) day aggregates in <lake>/cells, re-clustered by partition;
    # equal to pipelines.sites.find_sites over `sessions` (tests/pipelines/test_sites_incremental)
    with partition_mapper(settings) as mapper:
        sites, cell_labels, stats = find_sites_incremental(
            str(lake), day, settings.window_days, settings.cluster, mapper=mapper
        )
    clustered = session_labels(sessions, settings.cluster, cell_labels)
    found = classify_window(sessions, sites, clustered, settings, registry)
    classified, labels = found.classified, found.labels
    # the lifecycle's "use collapsed" tests (pipelines.identity) read the recent sessions, all
    # and occasional, counted by the UTC day the sites' first_seen/last_seen come from
    cl = classified["cluster"].to_numpy(np.int64)
    plug_day = session_days(sessions["plug_in_utc"]).astype("datetime64[D]")
    recent = recent_use(
        plug_day, labels,
        sessions["vehicle"].to_numpy(), int(cl.max(initial=-1)) + 1, day,
        settings.lifecycle.stale_days, settings.classify.regular_min_sessions,
    )  # fmt: skip
    classified = classified.assign(**{c: recent[c].to_numpy()[cl] for c in recent})
    lk.write_table(
        _table(excluded_for_review(classified)), Path(lake) / "excluded" / f"{day}.parquet"
    )
    # the work table keeps precise positions of public sites only: a home's centroid is never
    # written anywhere (excluded sites are reviewed through their coarse cell above)
    private = classified["site_class"] != "public"
    lk.write_table(
        _table(
            classified.assign(
                lat=classified["lat"].mask(private), lon=classified["lon"].mask(private)
            )
        ),
        work_dir(lake, day) / CLASSIFIED,
    )
    landed = landed_share(
        plug_day, sessions["landing_day"].to_numpy(), day, settings.lifecycle.stale_days
    )
    (work_dir(lake, day) / LANDED).write_text(json.dumps({"landed_share": landed.tolist()}))
    excluded = classified[private]
    reasons = excluded["reasons"].str.split(";").explode()
    return {
        "window": [first, last],
        "sessions_in_window": len(sessions),
        "sessions_clustered": int((labels >= 0).sum()),
        "poor_fixes_placed": found.placed,
        "clustering": {k: v for k, v in stats.items() if k in ("seconds", "micro_points")},
        "sites_found": len(classified),
        "sites_split_from_residences": found.split,
        "sites_joined_as_fragments": found.joined,
        "sites_confirmed_by_registry": found.confirmed,
        "sites_public": int((~private).sum()),
        "sites_excluded": {k: int(v) for k, v in reasons.value_counts().sort_index().items()},
        "sites_excluded_by_class": {
            k: int(v) for k, v in excluded["site_class"].value_counts().sort_index().items()
        },
    }


@contextlib.contextmanager
def partition_mapper(settings: Settings) -> Iterator[Mapper]:
    """How clustering partitions run: in process, or on Dask when ``task_runner == "dask"``
    (a scheduler at ``dask_address``, else a local cluster for the duration of the stage)."""
    if settings.task_runner != "dask":
        yield map
        return
    from distributed import Client, LocalCluster

    if settings.dask_address:
        with Client(settings.dask_address) as client:
            yield dask_mapper(client)
    else:
        with LocalCluster(processes=False) as cluster, Client(cluster) as client:
            yield dask_mapper(client)


def identify(
    lake: str | Path, day: str, registry: pd.DataFrame | None, settings: Settings
) -> dict[str, Any]:
    """Give public sites their stable ids and lifecycle status; match them to the registry."""
    classified = pq.read_table(work_dir(lake, day) / CLASSIFIED).to_pandas()
    public = classified[classified["site_class"] == "public"].reset_index(drop=True)
    history = read_history(lake, day)
    landed_path = work_dir(lake, day) / LANDED
    landed = json.loads(landed_path.read_text())["landed_share"] if landed_path.exists() else None
    published, new_history = assign_identity(public, history, day, settings.lifecycle, landed)
    write_history(lake, day, new_history)
    published, registry_summary = match_registry(published, registry, settings.registry)
    published = published.sort_values("site_id", ignore_index=True)
    lk.write_table(_table(published), work_dir(lake, day) / PUBLISHED)
    status = published["status"].value_counts()
    return {
        "sites_published": len(published),
        "sites_new": int(status.get("new", 0)),
        "sites_active": int(status.get("active", 0)),
        "sites_stale": int(status.get("stale", 0)),
        "registry": registry_summary,
    }


def publish(
    lake: str | Path,
    publish_root: str,
    day: str,
    *,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the day's published files (GeoJSON, GeoParquet, nav bundle, latest.json)."""
    published = pq.read_table(work_dir(lake, day) / PUBLISHED).to_pandas()
    key, loaded = load_signing_key(lake)
    summary = publish_day(
        published,
        day=day,
        publish_root=publish_root,
        signing_key=key,
        storage_options=storage_options,
    )
    return {**summary, "signing_key": loaded.origin, "signing_key_path": loaded.path}


def write_report(lake: str | Path, day: str, report: dict[str, Any]) -> str:
    """Write ``<lake>/reports/<day>.json`` and return its path."""
    path = Path(lake) / "reports" / f"{day}.json"
    lk.write_json(report, path)
    return str(path)


def _table(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)
