"""Site discovery: sessions -> micro-points -> weighted, partitioned DBSCAN -> one row per site.

The reference path is :func:`find_sites` (a window of sessions in memory). It goes through the
same aggregate table as the incremental path (:mod:`pipelines.cellstate`), so both give the same
sites:

1. **aggregate** (:func:`aggregate_sessions`): usable sessions grouped by (micro cell, vehicle):
   session count, sum of unit vectors, power counts, max power, first/last day. A home seen 90
   times by one car is one row.
2. **micro-points** (:func:`micro_points`): the aggregate rolled up per micro cell (H3 res 13 by
   default): weight = sessions, position = the normalised sum of the sessions' unit vectors.
3. **cluster** (:func:`cluster_micro_points`): weighted DBSCAN, partitioned by coarse H3 cell
   with a halo and stitched (:mod:`geo.cluster`); equal to one global DBSCAN of the micro-points.
4. **summarise** (:func:`summarise_sites`): one row per cluster, labels ordered by the
   centroid's H3 cell, so the same input always gives the same labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.cluster import (
    PartitionResult,
    cluster_centroids,
    cluster_points,
    order_labels,
)
from geo.distance import unit_vectors
from geo.h3cells import cell_to_parent, get_resolution, latlng_to_cells
from pipelines.config import ClusterParams
from pipelines.schema import DC_POWER_KW, SITE_CORE_COLUMNS

__all__ = [
    "AGGREGATE_COLUMNS",
    "aggregate_sessions",
    "cluster_micro_points",
    "find_sites",
    "micro_points",
    "power_class",
    "session_days",
    "summarise_sites",
    "usable_sessions",
    "vehicle_keys",
]

#: the (micro cell, vehicle) aggregate: the unit both paths cluster and summarise from
AGGREGATE_COLUMNS: tuple[str, ...] = (
    "cell",  # uint64 micro cell
    "vkey",  # uint64 hash of the pseudonymous vehicle (never leaves the lake)
    "n",  # int64 sessions
    "sx",
    "sy",
    "sz",  # float64 sum of the sessions' unit vectors
    "n_known",  # int64 sessions reporting max power
    "n_dc",  # int64 sessions at or above DC_POWER_KW
    "pmax",  # float64 max reported power, NaN if none
    "first_day",
    "last_day",  # int64 days since 1970-01-01 (UTC day of plug-in)
)

_DAY0 = np.datetime64("1970-01-01", "D")


# --------------------------------------------------------------------------------------------
# 1. aggregate
# --------------------------------------------------------------------------------------------
def usable_sessions(sessions: pd.DataFrame, params: ClusterParams) -> npt.NDArray[np.bool_]:
    """Sessions allowed to place sites: a finite position and GPS accuracy not worse than
    ``params.max_gps_accuracy_m`` (unknown accuracy is accepted)."""
    lat = sessions["lat"].to_numpy(np.float64)
    lon = sessions["lon"].to_numpy(np.float64)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if "gps_accuracy_m" in sessions:
        acc = sessions["gps_accuracy_m"].to_numpy(np.float64, na_value=np.nan)
        ok &= ~(acc > params.max_gps_accuracy_m)
    return ok


def session_days(plug_in_utc: pd.Series) -> npt.NDArray[np.int64]:
    """UTC day of plug-in as days since 1970-01-01."""
    ts = pd.to_datetime(plug_in_utc, utc=True).dt.tz_localize(None)
    return (ts.to_numpy().astype("datetime64[D]") - _DAY0).astype(np.int64)


def vehicle_keys(vehicle: pd.Series) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each pseudonym (deterministic across runs and machines)."""
    return pd.util.hash_array(vehicle.astype(str).to_numpy(object), categorize=True)


def _micro_cells(sessions: pd.DataFrame, res: int) -> npt.NDArray[np.uint64]:
    """Micro cells at ``res``: parents of the lake's cell column, else computed from lat/lon."""
    if "cell" in sessions:
        cells = sessions["cell"].to_numpy(np.uint64)
        if cells.size and (cells != 0).all() and (get_resolution(cells) >= res).all():
            return cell_to_parent(cells, res)
    return latlng_to_cells(sessions["lat"].to_numpy(), sessions["lon"].to_numpy(), res)


def aggregate_sessions(sessions: pd.DataFrame, params: ClusterParams) -> pd.DataFrame:
    """Group usable sessions by (micro cell, vehicle), sorted by both (see AGGREGATE_COLUMNS).

    Unusable sessions (see :func:`usable_sessions`) are left out.
    """
    s = sessions.loc[usable_sessions(sessions, params)]
    xyz = unit_vectors(s["lat"].to_numpy(), s["lon"].to_numpy())
    power = (
        s["max_power_kw"].to_numpy(np.float64, na_value=np.nan)
        if "max_power_kw" in s
        else np.full(len(s), np.nan)
    )
    known = np.isfinite(power)
    day = session_days(s["plug_in_utc"])
    frame = pd.DataFrame(
        {
            "cell": _micro_cells(s, params.micro_res),
            "vkey": vehicle_keys(s["vehicle"]),
            "n": np.ones(len(s), dtype=np.int64),
            "sx": xyz[:, 0],
            "sy": xyz[:, 1],
            "sz": xyz[:, 2],
            "n_known": known.astype(np.int64),
            "n_dc": (known & (power >= DC_POWER_KW)).astype(np.int64),
            "pmax": power,
            "first_day": day,
            "last_day": day,
        }
    )
    return combine_aggregates([frame])


def combine_aggregates(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Merge aggregate tables (same keys summed, extremes kept), sorted by (cell, vkey)."""
    frame = pd.concat(list(frames), ignore_index=True)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=_AGG_DTYPES[c]) for c in AGGREGATE_COLUMNS})
    out = frame.groupby(["cell", "vkey"], sort=True).agg(
        n=("n", "sum"),
        sx=("sx", "sum"),
        sy=("sy", "sum"),
        sz=("sz", "sum"),
        n_known=("n_known", "sum"),
        n_dc=("n_dc", "sum"),
        pmax=("pmax", "max"),
        first_day=("first_day", "min"),
        last_day=("last_day", "max"),
    )
    return out.reset_index().astype(_AGG_DTYPES)[list(AGGREGATE_COLUMNS)]


_AGG_DTYPES = {
    "cell": np.uint64,
    "vkey": np.uint64,
    "n": np.int64,
    "sx": np.float64,
    "sy": np.float64,
    "sz": np.float64,
    "n_known": np.int64,
    "n_dc": np.int64,
    "pmax": np.float64,
    "first_day": np.int64,
    "last_day": np.int64,
}


# --------------------------------------------------------------------------------------------
# 2-3. micro-points and clustering
# --------------------------------------------------------------------------------------------
def micro_points(agg: pd.DataFrame) -> pd.DataFrame:
    """Roll the aggregate up per micro cell: ``cell, n, vehicles, sx, sy, sz`` sorted by cell."""
    cells = agg["cell"].to_numpy(np.uint64)
    uniq, inv = np.unique(cells, return_inverse=True)
    k = uniq.size
    return pd.DataFrame(
        {
            "cell": uniq,
            "n": np.bincount(inv, agg["n"].to_numpy(np.float64), minlength=k).astype(np.int64),
            "vehicles": np.bincount(inv, minlength=k).astype(np.int64),
            "sx": np.bincount(inv, agg["sx"].to_numpy(), minlength=k),
            "sy": np.bincount(inv, agg["sy"].to_numpy(), minlength=k),
            "sz": np.bincount(inv, agg["sz"].to_numpy(), minlength=k),
        }
    )


def _unit(sums: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return sums / np.linalg.norm(sums, axis=1, keepdims=True)


def cluster_micro_points(
    micro: pd.DataFrame,
    params: ClusterParams,
    mapper: Callable[..., Iterable[PartitionResult]] = map,
) -> npt.NDArray[np.int64]:
    """Labels (``0..k-1`` in no particular order, -1 noise) of the micro-points."""
    sums = micro[["sx", "sy", "sz"]].to_numpy()
    return cluster_points(
        _unit(sums) if len(micro) else sums,
        micro["n"].to_numpy(np.float64),
        micro["cell"].to_numpy(np.uint64),
        params.eps_m,
        params.min_samples,
        partition_res=params.partition_res,
        mapper=mapper,
    )


# --------------------------------------------------------------------------------------------
# 4. summarise
# --------------------------------------------------------------------------------------------
def power_class(n_dc: npt.ArrayLike, n_known: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """``"dc"`` when >= 80 % of the sessions with known power are DC, ``"ac"`` when <= 20 %
    (or when no session reported power: unknown power counts as AC), else ``"mixed"``.

    >>> power_class([8, 2, 5, 0], [10, 10, 10, 0]).tolist()
    ['dc', 'ac', 'mixed', 'ac']
    """
    dc = np.asarray(n_dc, dtype=np.float64)
    known = np.asarray(n_known, dtype=np.float64)
    share = np.divide(dc, known, out=np.zeros_like(dc), where=known > 0)
    return np.where(share >= 0.8, "dc", np.where(share <= 0.2, "ac", "mixed"))


def summarise_sites(
    agg: pd.DataFrame, cell_labels: pd.Series
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """One row per cluster from the aggregate and each micro cell's label.

    Parameters
    ----------
    agg : DataFrame
        The (micro cell, vehicle) aggregate (AGGREGATE_COLUMNS).
    cell_labels : Series
        Label per micro cell (index: uint64 cell; any numbering, -1 noise).

    Returns
    -------
    sites : DataFrame
        SITE_CORE_COLUMNS, one row per cluster, sorted by ``cluster`` = the stable label.
    relabel : int64 array
        ``relabel[old_label] = cluster``, to renumber other arrays the same way.
    """
    lab = _lookup(cell_labels, agg["cell"].to_numpy(np.uint64))
    lab_values = cell_labels.to_numpy(np.int64)
    k = int(lab_values.max(initial=-1)) + 1
    m = lab >= 0
    a, lm = agg.loc[m], lab[m]
    lat, lon = cluster_centroids(a[["sx", "sy", "sz"]].to_numpy(), lm, k)
    relabel, order = order_labels(np.arange(k), lat, lon)
    cl = relabel[lm]

    sessions = np.bincount(cl, a["n"].to_numpy(np.float64), minlength=k).astype(np.int64)
    pairs = np.unique(np.stack([cl.astype(np.uint64), a["vkey"].to_numpy(np.uint64)]), axis=1)
    vehicles = np.bincount(pairs[0].astype(np.int64), minlength=k).astype(np.int64)
    n_known = np.bincount(cl, a["n_known"].to_numpy(np.float64), minlength=k)
    n_dc = np.bincount(cl, a["n_dc"].to_numpy(np.float64), minlength=k)
    pmax = np.full(k, -np.inf)
    pw = a["pmax"].to_numpy(np.float64)
    np.fmax.at(pmax, cl, pw)
    first = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, cl, a["first_day"].to_numpy(np.int64))
    last = np.full(k, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, cl, a["last_day"].to_numpy(np.int64))

    sites = pd.DataFrame(
        {
            "cluster": np.arange(k, dtype=np.int64),
            "lat": lat[order],
            "lon": lon[order],
            "sessions": sessions,
            "vehicles": vehicles,
            "first_seen": _day_str(first),
            "last_seen": _day_str(last),
            "power_class": power_class(n_dc, n_known),
            "max_power_kw": np.where(np.isfinite(pmax), pmax, np.nan),
        }
    )
    return sites[list(SITE_CORE_COLUMNS)], relabel


def _lookup(cell_labels: pd.Series, cells: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Label of each cell from a Series indexed by sorted uint64 cells (-1 where absent)."""
    idx = cell_labels.index.to_numpy(np.uint64)
    if idx.size == 0:
        return np.full(cells.size, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(idx, cells), idx.size - 1)
    return np.where(idx[pos] == cells, cell_labels.to_numpy(np.int64)[pos], -1)


def _day_str(days: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    return (_DAY0 + days.astype("timedelta64[D]")).astype(str).astype(object)


# --------------------------------------------------------------------------------------------
# the reference entry point
# --------------------------------------------------------------------------------------------
def find_sites(
    sessions: pd.DataFrame,
    params: ClusterParams,
    mapper: Callable[..., Iterable[PartitionResult]] = map,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Cluster a window of sessions into charge sites.

    Parameters
    ----------
    sessions : DataFrame
        The window's sessions with the lake's columns (``pipelines.schema.SESSIONS_SCHEMA``);
        needs at least ``vehicle, plug_in_utc, lat, lon`` (``cell``, ``max_power_kw`` and
        ``gps_accuracy_m`` are used when present).
    params : ClusterParams
        eps, min_samples, micro and partition resolutions, GPS accuracy limit.
    mapper : callable, optional
        ``mapper(func, partitions)`` runs the per-partition clustering (default builtin ``map``).

    Returns
    -------
    sites : DataFrame
        ``SITE_CORE_COLUMNS``, one row per cluster, sorted by ``cluster`` (0..n-1, ordered by
        the centroid's H3 cell: the same input gives the same labels).
    labels : int64 ndarray
        The cluster of each row of ``sessions`` (-1: noise or not usable).
    """
    agg = aggregate_sessions(sessions, params)
    micro = micro_points(agg)
    raw = cluster_micro_points(micro, params, mapper=mapper)
    cell_labels = pd.Series(raw, index=micro["cell"].to_numpy(np.uint64))
    sites, relabel = summarise_sites(agg, cell_labels)
    labels = session_labels(sessions, params, cell_labels, relabel)
    return sites, labels


def session_labels(
    sessions: pd.DataFrame,
    params: ClusterParams,
    cell_labels: pd.Series,
    relabel: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.int64]:
    """Each session's cluster from a micro cell -> label mapping (-1 if unusable or noise)."""
    out = np.full(len(sessions), -1, dtype=np.int64)
    ok = usable_sessions(sessions, params)
    if not ok.any() or cell_labels.empty:
        return out
    lab = _lookup(cell_labels, _micro_cells(sessions.loc[ok], params.micro_res))
    if relabel is not None:
        noise = lab < 0
        lab = relabel[np.maximum(lab, 0)] if relabel.size else lab
        lab[noise] = -1
    out[ok] = lab
    return out
