"""Why a station is missed or a private site published: the census of a simulated run.

For every eligible public station (:data:`pipelines.sim.evaluate.ELIGIBLE_VEHICLES` distinct
opted-in vehicles in the window) whose sessions did not end up in a public site, the site most
of its sessions fell into; and every public site most of whose sessions are a home's, a
garage's or a workplace's. Each with the site's class, reason codes and the features the
rules read. This is the table each tuning session of ``docs/quality.md`` started from::

    .venv/bin/python -m pipelines.sim.census SIM LAKE [--day YYYY-MM-DD] [--csv OUT]
        [--sites OUT] [--no-registry] [--set JSON]

``SIM`` is a ``chargepoints simulate`` folder, ``LAKE`` a lake its landing area was ingested
into (``chargepoints run`` or ``pipelines.sim.sweep``); ``--set`` takes settings overrides as
the sweep does. Sites are found and classified again in process, exactly as the daily run's
discover stage does (:func:`pipelines.steps.classify_window`, with ``SIM/registry.csv``;
``--no-registry`` leaves the rules' classes), and nothing is written; the join uses session
ids, so it needs the lake's sessions, which never leave it. ``--sites OUT`` also writes every
site's row (:func:`site_truth`), so two settings can be compared site by site.

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
from pipelines.config import Settings
from pipelines.registry import read_registry
from pipelines.sim.evaluate import ELIGIBLE_VEHICLES, PRIVATE, load_truth, station_usage
from pipelines.sites import find_sites
from pipelines.steps import classify_window, window_bounds

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


def site_truth(
    session_ids: np.ndarray,
    labels: np.ndarray,
    classified: pd.DataFrame,
    truth_station: pd.Series,
    usage: pd.DataFrame,
) -> pd.DataFrame:
    """Every site with the station most of its sessions came from.

    Arguments as for :func:`census`. One row per site of ``classified``: ``cluster``,
    ``site_class``, ``reasons``, ``station_id`` (``None`` where no session is in the truth),
    ``kind``, ``vehicles_in``, ``purity`` and :data:`FEATURES`; sorted by ``cluster``.

    >>> c = pd.DataFrame({"cluster": [0, 1], "site_class": ["public", "residential"],
    ...                   "reasons": ["", "household"], "sessions": [3, 1]})
    >>> truth = pd.Series(["A", "A", "H", "H"], index=["s0", "s1", "s2", "s3"])
    >>> use = pd.DataFrame({"station_id": ["A", "H"], "kind": ["public_ac", "home"],
    ...                     "vehicles_in": [6, 1]})
    >>> site_truth(truth.index.to_numpy(), np.array([0, 0, 0, 1]), c, truth, use)[
    ...     ["cluster", "site_class", "station_id", "kind", "purity"]]
       cluster   site_class station_id       kind  purity
    0        0       public          A  public_ac   0.667
    1        1  residential          H       home   1.000
    """
    s = pd.DataFrame(
        {"station_id": truth_station.reindex(session_ids).to_numpy(), "cluster": labels}
    )
    s = s[(s["cluster"] >= 0) & s["station_id"].notna()]
    per = s.groupby(["cluster", "station_id"]).size().rename("n").reset_index()
    per["purity"] = per["n"] / per.groupby("cluster")["n"].transform("sum")
    top = per.sort_values(["cluster", "n", "station_id"], ascending=[True, False, True])
    top = top.drop_duplicates("cluster").set_index("cluster")
    use = usage.set_index("station_id")
    cols = [c for c in ("cluster", "site_class", "reasons", *FEATURES) if c in classified]
    out = classified[cols].sort_values("cluster").reset_index(drop=True)
    st = out["cluster"].map(top["station_id"])
    out.insert(3, "station_id", st)
    out.insert(4, "kind", st.map(use["kind"]))
    out.insert(5, "vehicles_in", st.map(use["vehicles_in"]))
    out.insert(6, "purity", out["cluster"].map(top["purity"]).round(3))
    return out


def run(
    sim: Path,
    lake: Path,
    day: str | None,
    settings: Settings,
    *,
    registry: bool = True,
    sites_out: Path | None = None,
) -> pd.DataFrame:
    """:func:`census` of ``lake`` on ``day`` (default: the simulation's last day), classified
    as the daily run does (with ``SIM/registry.csv``, where there is one, unless ``registry``
    is false); with ``sites_out``, :func:`site_truth` is written there as CSV."""
    day = day or (sim / "LAST_DATE").read_text().strip()
    first, last = window_bounds(day, settings.window_days)
    sessions = lk.read_sessions(lake, first, last, max_landing_day=day)
    sites, clustered = find_sites(sessions, settings.cluster)
    listed = sim / "registry.csv"
    reg = read_registry(listed) if registry and listed.exists() else None
    found = classify_window(sessions, sites, clustered, settings, reg)
    stations, truth = load_truth(sim / "truth", extra=("session_id",))
    usage = station_usage(stations, truth, day, settings.window_days)
    station_of = truth.set_index(truth["session_id"].astype(str))["station_id"]
    ids = sessions["session_id"].astype(str).to_numpy()
    if sites_out is not None:
        site_truth(ids, found.labels, found.classified, station_of, usage).to_csv(
            sites_out, index=False
        )
    return census(ids, found.labels, found.classified, station_of, usage)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pipelines.sim.census", description=__doc__.split("\n")[0]
    )
    ap.add_argument("sim", type=Path, help="a chargepoints simulate folder")
    ap.add_argument("lake", type=Path, help="a lake its landing area was ingested into")
    ap.add_argument("--day", default=None, help="scored day (default: the simulation's last)")
    ap.add_argument("--csv", type=Path, default=None, help="also write the table here")
    ap.add_argument("--sites", type=Path, default=None, help="also write every site's row here")
    ap.add_argument("--no-registry", action="store_true", help="the rules' classes alone")
    ap.add_argument("--set", default="{}", help="settings overrides, e.g. '{\"classify\": {...}}'")
    args = ap.parse_args(argv)
    settings = Settings.from_dict(json.loads(args.set))
    out = run(
        args.sim,
        args.lake,
        args.day,
        settings,
        registry=not args.no_registry,
        sites_out=args.sites,
    )
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(out.round(3).to_string(index=False) if len(out) else "nothing missed or leaked")
    if args.csv:
        out.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
