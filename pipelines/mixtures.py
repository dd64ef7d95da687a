"""Split a residence off the public charger it was chained with, by who sleeps there.

Where a home or an apartment garage lies 15-50 m from a public charger, fixes in between can
chain both into one DBSCAN site. The classifier then sees vehicles that sleep at the site doing
a large share of its sessions and excludes all of it (``residence_inside``,
``resident_vehicles`` ...): no home is published, but the charger is lost with it. In a dense
fleet that is most of the public stations missed (12 of 16 on the simulated seed h125).

In such a site the sleepers plug in at their drive or bay, everyone else at the charger. This
step takes each excluded site (``residential`` or ``workplace``) and moves everyone else's
sessions to a site of their own when all of these hold:

* the sleepers' mean position is ``>= split_offset_m`` from everyone else's;
* everyone else is ``>= split_min_vehicles`` vehicles plugging in within a median
  ``split_max_spread_m`` of their own mean: one charger, not a row of homes;
* ``>= split_min_one_time_share`` of them came once: a charger's users (on the simulator over
  two weeks, >= 0.91 for all but one station); a neighbour's friends come back. Not needed
  in a quiet area (``local_sessions_per_day < busy_area_sessions_per_day``) when they plug in
  ``>= split_far_offset_m`` from the sleepers: guests plug in where their hosts do, and over
  weeks a quiet charger's locals come back too;
* when a sleeper's own mean position lies within ``split_guest_gap_m`` of theirs, they may be
  that household's guests, so ``>= split_guest_min_vehicles`` are needed.
* amid a dense fleet (``local_sessions_per_day >= busy_area_sessions_per_day``) the site is
  not excluded for ``resident_vehicles`` (a garage's residents do most of its sessions): there
  everyone else is the residents' guests or a visitors' bay, unless ``split_resident_groups``.

A *workplace* car park chained with a public charger (twenty-first session) is split the same
way, its employees taking the sleepers' part: vehicles with ``>= regular_min_sessions``
sessions at the site, ``>= workplace_weekday_day_share`` of them on weekday mornings. A site
classed ``workplace`` with employees moves everyone else's sessions to a site of their own
when they are ``>= split_min_vehicles`` vehicles plugging in ``>= split_work_offset_m`` from
the employees' mean, within a median ``split_work_max_spread_m`` of their own mean (a row of
chargers; amid a dense fleet a car park's scattered remainder holds stray sessions of the
homes and garages around it), fewer than ``split_work_max_weekday_share`` of their sessions
on weekday mornings: a charger's users come at all hours, the car park's own occasional
users (visitors, part-timers) for a shift. The sleepers' gates above do not apply there: a
workplace has no guests that plug in beside a host.

A workplace can also hide *inside a public site* (thirty-first session): chained with a busy
charger, its employees' shifts are outnumbered by the charger's drivers, the site is classed
``public`` and the employees' sessions count in its figures (held-out 60k seed 743: 12 public
sites so on the last day). A site classed ``public`` with ``>= split_min_vehicles`` employees
is split when they plug in ``>= split_public_work_offset_m`` from everyone else's mean (a car
park's width: commuters at the charger itself plug in where everyone does), the employees
keeping the label; :func:`pipelines.refine.refine_sites` gives the split back unless it
leaves a non-public employees' part and a public one (their part public on its own is a busy
charger's own commuters; the rest no longer public would lose the charger).

Both parts are then classified afresh (``pipelines.steps.discover``): the new part is
published only if it passes every rule on its own, and the residence stays excluded.
Sessions are never dropped: each keeps a site, and the sleepers' part keeps the label.

Thirteenth session, on 18 dense simulated fleets (60,000 vehicles): recall +0.35 points on
average (h125 0.963 -> 0.975, h105 0.973 -> 0.979), no private site or split station added.
Held out: h127 0.969 -> 0.977, and h128 one private site more (a 9-driver part split off a
garage's residents), which the resident-group gate above then removed. docs/quality.md has the
figures.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.cluster import cluster_centroids
from geo.distance import haversine_m, unit_vectors
from pipelines.classify import employee_sessions, session_roles, weekday_daytime
from pipelines.config import ClassifyParams, ClusterParams
from pipelines.schema import SITE_CORE_COLUMNS
from pipelines.sites import resummarise

__all__ = ["SPLIT_FROM", "split_households", "split_mixtures"]

#: site classes whose sites may hide a public charger chained with a residence
SPLIT_FROM: tuple[str, ...] = ("residential", "workplace")


def split_mixtures(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    classified: pd.DataFrame,
    cluster: ClusterParams,
    params: ClassifyParams,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Split excluded sites into the residence and the charger chained with it.

    Parameters
    ----------
    sessions : DataFrame
        The window's sessions (as for :func:`pipelines.classify.site_features`).
    labels : array_like of int64
        Site of each session (-1 noise), aligned with ``sessions``.
    classified : DataFrame
        :func:`pipelines.classify.classify_sites` output for those sites
        (``SITE_CORE_COLUMNS``, ``site_class`` and the features the gates read).
    cluster : ClusterParams
        How site positions are summarised (:func:`pipelines.sites.summarise_labels`).
    params : ClassifyParams
        The ``split_*`` thresholds (module docstring).

    Returns
    -------
    sites : DataFrame
        ``SITE_CORE_COLUMNS``: the sites of ``classified``, each split site summarised again
        from its sleepers' sessions, and one new site per split (labels from the highest label
        + 1 on, in the order of the sites split), sorted by ``cluster``.
    labels : int64 ndarray
        The sessions' labels with the new sites'.
    """
    lab = np.asarray(labels, dtype=np.int64)
    sites = classified[list(SITE_CORE_COLUMNS)].reset_index(drop=True)
    if not params.split_mixtures:
        return sites, lab.copy()
    split, movers = _to_split(sessions, lab, classified, params)
    if not split.any():
        return sites, lab.copy()
    return _split_off(sessions, lab, sites, split, movers, cluster)


def _to_split(
    sessions: pd.DataFrame, lab: npt.NDArray[np.int64], classified: pd.DataFrame, p: ClassifyParams
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Per label, whether to split the site; per session, whether it moves to the new site."""
    k = max(
        int(classified["cluster"].max()) + 1 if len(classified) else 0, int(lab.max(initial=-1)) + 1
    )
    role = session_roles(sessions, lab, classified, p)
    used = lab >= 0
    cl = lab[used]
    codes = pd.factorize(sessions["vehicle"], sort=False)[0].astype(np.int64)[used]
    workplace = _per_label(classified, classified["site_class"] == "workplace", k)
    public = _per_label(classified, classified["site_class"] == "public", k)
    if p.split_public_work_offset_m <= 0:
        public[:] = False
    shift = weekday_daytime(sessions)[used]
    employee = employee_sessions(cl, codes, shift, p) & (workplace | public)[cl]
    # the residence's part: who sleeps there, or at a workplace who works there; at a public
    # site only its employees (a public charger's users may sleep beside it)
    res = np.where(public[cl], employee, (role[used] == 1) | employee)
    movers = np.zeros(lab.shape[0], dtype=bool)
    movers[used] = ~res
    lat = sessions["lat"].to_numpy(np.float64)[used]
    lon = sessions["lon"].to_numpy(np.float64)[used]
    xyz = unit_vectors(lat, lon)
    res_lat, res_lon = _centres(cl[res], xyz[res], k)
    oth_lat, oth_lon = _centres(cl[~res], xyz[~res], k)
    offset = haversine_m(res_lat, res_lon, oth_lat, oth_lon)  # NaN unless both parts exist
    nv = int(codes.max(initial=-1)) + 1
    pair, count = np.unique(cl[~res] * nv + codes[~res], return_counts=True)
    others = np.bincount(pair // nv, minlength=k)
    one_time = np.bincount(pair // nv, weights=count == 1, minlength=k) / np.maximum(others, 1)
    o = cl[~res]
    spread = (
        pd.Series(haversine_m(lat[~res], lon[~res], oth_lat[o], oth_lon[o]))
        .groupby(o)
        .median()
        .reindex(np.arange(k))
        .to_numpy()
    )
    gap = _nearest_sleeper_m(cl[res], codes[res], xyz[res], oth_lat, oth_lon, k)
    eligible = classified["site_class"].isin(SPLIT_FROM)
    if not p.split_resident_groups:  # amid a dense fleet a garage's others are its guests
        eligible &= ~(
            classified["reasons"].str.contains("resident_vehicles", regex=False)
            & (classified["local_sessions_per_day"] >= p.busy_area_sessions_per_day)
        )
    excluded = _per_label(classified, eligible, k)
    quiet = _per_label(
        classified, classified["local_sessions_per_day"] < p.busy_area_sessions_per_day, k
    )
    chargers = (
        (offset >= p.split_offset_m)
        & (spread <= p.split_max_spread_m)
        & ((one_time >= p.split_min_one_time_share) | (offset >= p.split_far_offset_m) & quiet)
        & ~((gap < p.split_guest_gap_m) & (others < p.split_guest_min_vehicles))
    )
    # a workplace's others who do not come for shifts: a public charger's users
    others_shift = np.bincount(cl[~res], weights=shift[~res], minlength=k) / np.maximum(
        np.bincount(cl[~res], minlength=k), 1
    )
    staffed = np.bincount(cl, weights=employee, minlength=k) > 0
    open_to_all = (
        (offset >= p.split_work_offset_m)
        & (spread <= p.split_work_max_spread_m)
        & (others_shift < p.split_work_max_weekday_share)
    )
    split = excluded & (others >= p.split_min_vehicles) & np.where(staffed, open_to_all, chargers)
    # a public site whose employees plug in a car park's width from everyone else: a workplace
    # chained with the charger, split off to be classified on its own
    staff = np.zeros(k, dtype=np.int64)  # the features' count of the same employees
    staff[classified["cluster"].to_numpy(np.int64)] = classified["employee_vehicles"].to_numpy()
    split |= (
        public
        & (staff >= p.split_min_vehicles)
        & (others >= p.split_min_vehicles)
        & (np.nan_to_num(offset, nan=0.0) >= p.split_public_work_offset_m)
    )
    return split, movers & split[np.maximum(lab, 0)]


def _per_label(classified: pd.DataFrame, flag: pd.Series, k: int) -> npt.NDArray[np.bool_]:
    """A per-site flag of ``classified`` as an array indexed by label (False for absent labels)."""
    out = np.zeros(k, dtype=bool)
    out[classified["cluster"].to_numpy(np.int64)] = flag.to_numpy(bool)
    return out


def _centres(
    cl: npt.NDArray[np.int64], xyz: npt.NDArray[np.float64], k: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Mean position of each label's sessions (NaN where it has none)."""
    lat, lon = cluster_centroids(xyz, cl, k)
    none = np.bincount(cl, minlength=k) == 0
    return np.where(none, np.nan, lat), np.where(none, np.nan, lon)


def _nearest_sleeper_m(
    cl: npt.NDArray[np.int64],
    codes: npt.NDArray[np.int64],
    xyz: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    k: int,
) -> npt.NDArray[np.float64]:
    """Per label, how far the nearest sleeper's mean position is from (lat, lon) (inf: none)."""
    out = np.full(k, np.inf)
    if cl.size == 0:
        return out
    nv = int(codes.max()) + 1
    pair, inv = np.unique(cl * nv + codes, return_inverse=True)
    plat, plon = cluster_centroids(xyz, inv.ravel(), pair.size)  # each sleeper's mean position
    site = pair // nv
    np.minimum.at(
        out, site, np.nan_to_num(haversine_m(plat, plon, lat[site], lon[site]), nan=np.inf)
    )
    return out


def split_households(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    sites: pd.DataFrame,
    at: pd.DataFrame,
    cluster: ClusterParams,
    params: ClassifyParams,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Split a household off the known charger it was chained with.

    For each site of ``at`` (``cluster`` and the ``lat``/``lon`` of the registry entry the
    site stands for), everyone but the vehicles sleeping there moves to a site of their own
    when the household is fewer than ``params.min_vehicles`` vehicles (a home: never
    published on its own), everyone else at least that many, the household's mean position
    ``>= params.split_offset_m`` from theirs and farther from the entry than theirs: the
    household plugs in at its drive, the others at the listed charger.

    Returns
    -------
    sites : DataFrame
        ``sites`` (``SITE_CORE_COLUMNS``) with the split sites summarised again and the new
        ones added (labels from the highest label + 1 on), sorted by ``cluster``.
    labels : int64 ndarray
        The sessions' labels with the new sites'.
    parent : int64 ndarray
        The site each new site was split from, in the order of the new labels.

    Examples
    --------
    A home (two cars sleeping at their drive) 30 m from a charger seven drivers use, all one
    site on the charger's registry entry; a site with nothing to split:

    >>> nights = pd.date_range("2026-11-02 20:00", periods=10, freq="D", tz="UTC")
    >>> home = pd.DataFrame({"vehicle": ["h1", "h2"] * 5, "plug_in_utc": nights,
    ...     "plug_out_utc": nights + pd.Timedelta(hours=11), "lat": 42.0003, "lon": -71.0})
    >>> days = pd.date_range("2026-11-02 10:00", periods=7, freq="D", tz="UTC")
    >>> charger = pd.DataFrame({"vehicle": [f"v{i}" for i in range(7)], "plug_in_utc": days,
    ...     "plug_out_utc": days + pd.Timedelta(hours=1), "lat": 42.0, "lon": -71.0})
    >>> s = pd.concat([home, charger], ignore_index=True).assign(
    ...     gps_accuracy_m=5.0, utc_offset_min=0, max_power_kw=7.0, energy_kwh=10.0)
    >>> lab = np.zeros(len(s), dtype=np.int64)
    >>> from pipelines.sites import summarise_labels
    >>> sites = summarise_labels(s, lab, ClusterParams())
    >>> at = pd.DataFrame({"cluster": [0], "lat": [42.0], "lon": [-71.0]})
    >>> out, new, parent = split_households(s, lab, sites, at, ClusterParams(), ClassifyParams())
    >>> out["vehicles"].tolist(), np.bincount(new).tolist(), parent.tolist()
    ([2, 7], [10, 7], [0])
    >>> split_households(s, lab, sites, at.iloc[:0], ClusterParams(), ClassifyParams())[2]
    array([], dtype=int64)
    """
    lab = np.asarray(labels, dtype=np.int64)
    sites = sites[list(SITE_CORE_COLUMNS)].reset_index(drop=True)
    none = np.zeros(0, dtype=np.int64)
    k = max(int(sites["cluster"].max()) + 1 if len(sites) else 0, int(lab.max(initial=-1)) + 1)
    cand = np.zeros(k, dtype=bool)
    cand[at["cluster"].to_numpy(np.int64)] = True
    mine = cand[np.maximum(lab, 0)] & (lab >= 0)
    if not mine.any():
        return sites, lab.copy(), none
    home = session_roles(sessions, lab, sites, params)[mine] == 1
    cl = lab[mine]
    codes = pd.factorize(sessions["vehicle"], sort=False)[0].astype(np.int64)[mine]
    xyz = unit_vectors(
        sessions["lat"].to_numpy(np.float64)[mine], sessions["lon"].to_numpy(np.float64)[mine]
    )
    h_lat, h_lon = _centres(cl[home], xyz[home], k)
    o_lat, o_lon = _centres(cl[~home], xyz[~home], k)
    e_lat, e_lon = np.full(k, np.nan), np.full(k, np.nan)
    e_lat[at["cluster"].to_numpy(np.int64)] = at["lat"].to_numpy(np.float64)
    e_lon[at["cluster"].to_numpy(np.int64)] = at["lon"].to_numpy(np.float64)
    nv = int(codes.max()) + 1
    household = np.bincount(np.unique(cl[home] * nv + codes[home]) // nv, minlength=k)
    others = np.bincount(np.unique(cl[~home] * nv + codes[~home]) // nv, minlength=k)
    split = (
        cand
        & (household > 0)
        & (household < params.min_vehicles)
        & (others >= params.min_vehicles)
        & (haversine_m(h_lat, h_lon, o_lat, o_lon) >= params.split_offset_m)
        & (haversine_m(o_lat, o_lon, e_lat, e_lon) < haversine_m(h_lat, h_lon, e_lat, e_lon))
    )
    if not split.any():
        return sites, lab.copy(), none
    movers = np.flatnonzero(mine)[~home & split[cl]]
    return (*_split_off(sessions, lab, sites, split, movers, cluster), np.flatnonzero(split))


def _split_off(
    sessions: pd.DataFrame,
    lab: npt.NDArray[np.int64],
    sites: pd.DataFrame,
    split: npt.NDArray[np.bool_],
    movers: npt.ArrayLike,
    cluster: ClusterParams,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Move the ``movers`` sessions of each label flagged in ``split`` to a new site (labels
    ``split.size`` on, in label order); both parts summarised again."""
    k = split.size
    new = np.full(k, -1, dtype=np.int64)
    new[split] = k + np.arange(int(split.sum()))
    out = lab.copy()
    out[movers] = new[lab[movers]]
    touched = np.r_[np.flatnonzero(split), new[split]]
    return resummarise(sessions, out, sites, touched, cluster), out
