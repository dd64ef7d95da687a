"""Why a station is missed or a private site published: the census of a simulated run.

For every eligible public station (:data:`pipelines.sim.evaluate.ELIGIBLE_VEHICLES` distinct
opted-in vehicles in the window) whose sessions did not end up in a public site, the site most
of its sessions fell into; and every public site most of whose sessions are a home's, a
garage's or a workplace's. Each with the site's class, reason codes and the features the
rules read. This is the table each tuning session of ``docs/quality.md`` started from::

    .venv/bin/python -m pipelines.sim.census SIM LAKE [--day YYYY-MM-DD] [--csv OUT]

``SIM`` is a ``chargepoints simulate`` folder, ``LAKE`` a lake its landing area was ingested
into (``chargepoints run`` or ``pipelines.sim.sweep``); ``--set`` takes settings overrides as
the sweep does. Sites are found and classified again in process (nothing is written); the
join uses session ids, so it needs the lake's sessions, which never leave it.

It joins sessions to stations, where :func:`pipelines.sim.evaluate.evaluate` matches sites to
the nearest station, so the two can differ at the margin: a station whose sessions sit in a
public site matched to a neighbour is a miss to the evaluation (its ``missed_examples`` name
the neighbour) and not listed here; a public site whose sessions are mostly a home's is
``leaked`` here even when its centroid is nearer a charger, and the other way round.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines import lake as lk
from pipelines.classify import classify_sites, site_features
from pipelines.config import Settings
from pipelines.sim.evaluate import ELIGIBLE_VEHICLES, PRIVATE, load_truth, station_usage
from pipelines.sites import find_sites
from pipelines.steps import window_bounds

#: the features printed beside each row (all are columns of the classified table)
FEATURES = (
    "sessions",
    "vehicles",
    "top_vehicle_share",
    "top_vehicle_loyalty",
    "top_vehicle_overnight_share",
    "overnight_share",
    "visitor_share",
    "one_time_vehicle_share",
    "anchored_vehicles",
    "loyal_vehicles",
    "local_sessions_per_day",
    "dwell_median_h",
)


def census(
    session_ids: np.ndarray,
    labels: np.ndarray,
    classified: pd.DataFrame,
    truth_station: pd.Series,
    usage: pd.DataFrame,
) -> pd.DataFrame:
    """Missed eligible stations, with their majority site, and public sites whose majority
    station is private.

    Parameters
    ----------
    session_ids, labels
        The window's sessions (ids as in the truth) and their site label (-1 for noise).
    classified
        :func:`pipelines.classify.classify_sites` output (``cluster`` is the label).
    truth_station
        Station id per session id (the truth's sessions, indexed by ``session_id``).
    usage
        :func:`pipelines.sim.evaluate.station_usage` for the scored day.

    Returns
    -------
    DataFrame
        One row per miss or leak: ``station_id``, ``kind``, ``vehicles_in``,
        ``outcome`` (``missed`` or ``leaked``), ``cluster`` (-1: most sessions were noise),
        ``in_site`` (share of the station's window sessions in that site), ``purity`` (share
        of the site's sessions from this station), ``site_class``, ``reasons`` and
        :data:`FEATURES`. Sorted by outcome, kind and station.

    Examples
    --------
    Station A (5 vehicles) fell into a residential site 0; home H's sessions into a public
    site 1 it shares with one stray session of A:

    >>> c = pd.DataFrame({"cluster": [0, 1], "site_class": ["residential", "public"],
    ...                   "reasons": ["household", ""], "sessions": [5, 4]})
    >>> truth = pd.Series(["A"] * 6 + ["H"] * 3, index=[f"s{i}" for i in range(9)])
    >>> use = pd.DataFrame({"station_id": ["A", "H"], "kind": ["public_ac", "home"],
    ...                     "vehicles_in": [6, 1]})
    >>> out = census(truth.index.to_numpy(), np.array([0, 0, 0, 0, 0, 1, 1, 1, 1]), c,
    ...              truth, use)
    >>> out[["station_id", "outcome", "cluster", "in_site", "purity", "site_class"]]
      station_id outcome  cluster  in_site  purity   site_class
    0          A  missed        0    0.833    1.00  residential
    1          H  leaked        1    1.000    0.75       public
    >>> census(np.array([], dtype=object), np.array([], dtype=int), c.iloc[:0], truth,
    ...        use).empty
    True
    """
    s = pd.DataFrame(
        {"station_id": truth_station.reindex(session_ids).to_numpy(), "cluster": labels}
    )
    s = s.dropna(subset=["station_id"])
    per = s.groupby(["station_id", "cluster"]).size().rename("n").reset_index()
    station_total = per.groupby("station_id")["n"].transform("sum")
    site_total = per[per["cluster"] >= 0].groupby("cluster")["n"].sum()
    per["in_site"] = per["n"] / station_total
    per["purity"] = per["n"] / per["cluster"].map(site_total)  # NaN for noise
    per = per.merge(usage[["station_id", "kind", "vehicles_in"]], on="station_id")
    site = classified.set_index("cluster")
    per["site_class"] = per["cluster"].map(site["site_class"]).fillna("noise")
    # a station's own majority site (noise included), and each site's majority station
    by_station = per.sort_values(["station_id", "n", "cluster"], ascending=[True, False, True])
    by_station = by_station.drop_duplicates("station_id")
    by_site = per[per["cluster"] >= 0].sort_values(
        ["cluster", "n", "station_id"], ascending=[True, False, True]
    )
    by_site = by_site.drop_duplicates("cluster")
    missed = by_station[
        by_station["kind"].str.startswith("public")
        & (by_station["vehicles_in"] >= ELIGIBLE_VEHICLES)
        & (by_station["site_class"] != "public")
    ].assign(outcome="missed")
    leaked = by_site[by_site["kind"].isin(PRIVATE) & (by_site["site_class"] == "public")].assign(
        outcome="leaked"
    )
    out = pd.concat([missed, leaked], ignore_index=True)
    for col in ("reasons", *FEATURES):
        if col in site.columns:
            out[col] = out["cluster"].map(site[col])
    cols = ["station_id", "kind", "vehicles_in", "outcome", "cluster", "in_site", "purity"]
    rest = [c for c in ("site_class", "reasons", *FEATURES) if c in out.columns]
    out = out[cols + rest].round({"in_site": 3, "purity": 3})
    out = out.sort_values(["outcome", "kind", "station_id"], ascending=[False, True, True])
    return out.reset_index(drop=True)


def run(sim: Path, lake: Path, day: str | None, settings: Settings) -> pd.DataFrame:
    """:func:`census` of ``lake`` on ``day`` (default: the simulation's last day)."""
    day = day or (sim / "LAST_DATE").read_text().strip()
    first, last = window_bounds(day, settings.window_days)
    sessions = lk.read_sessions(lake, first, last, max_landing_day=day)
    sites, labels = find_sites(sessions, settings.cluster)
    features = site_features(sessions, labels, sites, settings.classify)
    classified = classify_sites(features, settings.classify)
    stations, truth = load_truth(sim / "truth", extra=("session_id",))
    usage = station_usage(stations, truth, day, settings.window_days)
    station_of = truth.set_index(truth["session_id"].astype(str))["station_id"]
    return census(
        sessions["session_id"].astype(str).to_numpy(), labels, classified, station_of, usage
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pipelines.sim.census", description=__doc__.split("\n")[0]
    )
    ap.add_argument("sim", type=Path, help="a chargepoints simulate folder")
    ap.add_argument("lake", type=Path, help="a lake its landing area was ingested into")
    ap.add_argument("--day", default=None, help="scored day (default: the simulation's last)")
    ap.add_argument("--csv", type=Path, default=None, help="also write the table here")
    ap.add_argument("--set", default="{}", help="settings overrides, e.g. '{\"classify\": {...}}'")
    args = ap.parse_args(argv)
    out = run(args.sim, args.lake, args.day, Settings.from_dict(json.loads(args.set)))
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(out.round(3).to_string(index=False) if len(out) else "nothing missed or leaked")
    if args.csv:
        out.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
