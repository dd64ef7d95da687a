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
4. **summarise** (:func:`summarise_sites`): one row per cluster, placed at the mean of its
   drivers' mean positions (each vehicle counts once, so a household's many sessions do not pull
   a chained site off the public charger; where many drivers came once, each is weighted by one
   over its sessions there, so a workplace's commuters do not either), labels ordered by that
   centroid's H3 cell, so the same input always gives the same labels.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from geo.cluster import (
    Mapper,
    cluster_points,
    join_thin_pairs,
    likeliest_sites,
    order_labels,
    rescue_noise,
)
from geo.distance import unit_vectors, unit_vectors_to_latlng
from geo.h3cells import cell_to_parent, get_resolution, latlng_to_cells
from geo.modes import ModeParams, split_modes
from pipelines.config import ClusterParams
from pipelines.schema import DC_POWER_KW, SITE_CORE_COLUMNS

__all__ = [
    "AGGREGATE_COLUMNS",
    "aggregate_sessions",
    "cluster_micro_points",
    "combine_aggregates",
    "find_sites",
    "micro_points",
    "place_poor_fixes",
    "power_class",
    "resummarise",
    "session_days",
    "session_labels",
    "summarise_labels",
    "summarise_sites",
    "unit_sums",
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
    "sz",  # int64 sum of the sessions' unit vectors in fixed point (VECTOR_SCALE)
    "n_known",  # int64 sessions reporting max power
    "n_dc",  # int64 sessions at or above DC_POWER_KW
    "pmax",  # float64 max reported power, NaN if none
    "first_day",
    "last_day",  # int64 days since 1970-01-01 (UTC day of plug-in)
)

#: unit vectors are summed as int64 in units of 2**-36 (0.1 mm on the ground): integer sums
#: are exact in any order, so a window summed incrementally equals one summed at once, bit for
#: bit, with room for 2**27 sessions per cluster
VECTOR_SCALE: float = 2.0**36

_DAY0 = np.datetime64("1970-01-01", "D")
_EMPTY = np.empty(0, dtype=np.int64)


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
    if isinstance(plug_in_utc.dtype, pd.DatetimeTZDtype):
        ts = plug_in_utc.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        ts = pd.to_datetime(plug_in_utc, utc=True).dt.tz_localize(None)
    return (ts.to_numpy().astype("datetime64[D]") - _DAY0).astype(np.int64)


_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)
_NIBBLE_SHIFT = np.arange(60, -4, -4, dtype=np.uint64)


def vehicle_keys(vehicle: pd.Series | pa.Array | pa.ChunkedArray) -> npt.NDArray[np.uint64]:
    """A 64-bit key per pseudonym, the same for the same string on any run or machine.

    The lake's pseudonyms are HMAC-SHA256 hex digests: their first 16 hex digits are the key
    (vectorized through Arrow, no Python strings). Any other string gets pandas' stable 64-bit
    hash. Either way the key stays inside the lake.

    >>> import pandas as pd
    >>> vehicle_keys(pd.Series(["00000000000000ff" + "0" * 48, "v1"]))[0]
    np.uint64(255)
    """
    arr = pa.array(vehicle, type=pa.string()) if isinstance(vehicle, pd.Series) else vehicle
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.fill_null("")
    head = pc.utf8_slice_codeunits(arr, 0, 16)
    is_hex = pc.match_substring_regex(head, "^[0-9a-fA-F]{16}$").to_numpy(zero_copy_only=False)
    fixed = pc.if_else(pa.array(is_hex), head, pa.scalar("0" * 16)).cast(pa.binary(16))
    raw = np.frombuffer(fixed.buffers()[1], dtype=np.uint8, count=16 * len(fixed))
    nibbles = _HEX[raw.reshape(-1, 16)].astype(np.uint64)
    keys = np.bitwise_or.reduce(nibbles << _NIBBLE_SHIFT, axis=1)
    if not is_hex.all():
        other = arr.filter(pa.array(~is_hex)).to_numpy(zero_copy_only=False)
        keys[~is_hex] = pd.util.hash_array(other.astype(object), categorize=True)
    return keys


def _micro_cells(sessions: pd.DataFrame, res: int) -> npt.NDArray[np.uint64]:
    """Micro cells at ``res``: the parent of the lake's ``cell`` where it is fine enough, else
    (row by row) computed from lat/lon — so a row's cell never depends on the other rows."""
    lat, lon = sessions["lat"].to_numpy(np.float64), sessions["lon"].to_numpy(np.float64)
    if "cell" not in sessions:
        return latlng_to_cells(lat, lon, res)
    cells = sessions["cell"].to_numpy(np.uint64)
    ok = (cells != 0) & (get_resolution(cells) >= res)
    out = np.zeros(cells.size, dtype=np.uint64)
    out[ok] = cell_to_parent(cells[ok], res)
    if not ok.all():
        out[~ok] = latlng_to_cells(lat[~ok], lon[~ok], res)
    return out


def aggregate_sessions(
    sessions: pd.DataFrame, params: ClusterParams, by: str | None = None
) -> pd.DataFrame:
    """Group usable sessions by (micro cell, vehicle), sorted by both (see AGGREGATE_COLUMNS).

    Unusable sessions (see :func:`usable_sessions`) are left out. ``by`` names an integer
    column of ``sessions`` to group by first (kept as column ``part``): many tables in one pass.
    """
    s = sessions.loc[usable_sessions(sessions, params)]
    xyz = np.rint(unit_vectors(s["lat"].to_numpy(), s["lon"].to_numpy()) * VECTOR_SCALE)
    xyz = xyz.astype(np.int64)
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
    if by is not None:
        frame["part"] = s[by].to_numpy(np.int64)
    return combine_aggregates([frame])


def combine_aggregates(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Merge aggregate tables (same keys summed, extremes kept), sorted by (cell, vkey).

    Tables with a ``part`` column are grouped by (part, cell, vkey) and keep it.
    """
    frame = pd.concat(list(frames), ignore_index=True)
    keys = ["part", "cell", "vkey"] if "part" in frame else ["cell", "vkey"]
    if frame.empty:
        cols = [*keys[:-2], *AGGREGATE_COLUMNS]
        return pd.DataFrame({c: pd.Series(dtype=_AGG_DTYPES.get(c, np.int64)) for c in cols})
    key_values = [frame[k].to_numpy(_AGG_DTYPES.get(k, np.int64)) for k in keys]
    order = np.lexsort(key_values[::-1])
    key_values = [k[order] for k in key_values]
    change = np.zeros(len(frame) - 1, dtype=bool)
    for k in key_values:
        change |= k[1:] != k[:-1]
    start = np.flatnonzero(np.r_[True, change])
    out = {k: v[start] for k, v in zip(keys, key_values, strict=True)}
    for col in AGGREGATE_COLUMNS[2:]:
        values = frame[col].to_numpy(_AGG_DTYPES[col])[order]
        out[col] = _REDUCE[col].reduceat(values, start)
    return pd.DataFrame(out)


_AGG_DTYPES = {
    "cell": np.uint64,
    "vkey": np.uint64,
    "n": np.int64,
    "sx": np.int64,
    "sy": np.int64,
    "sz": np.int64,
    "n_known": np.int64,
    "n_dc": np.int64,
    "pmax": np.float64,
    "first_day": np.int64,
    "last_day": np.int64,
}
_REDUCE = {c: np.add for c in ("n", "sx", "sy", "sz", "n_known", "n_dc")} | {
    "pmax": np.fmax,
    "first_day": np.minimum,
    "last_day": np.maximum,
}


# --------------------------------------------------------------------------------------------
# 2-3. micro-points and clustering
# --------------------------------------------------------------------------------------------
def micro_points(agg: pd.DataFrame) -> pd.DataFrame:
    """Roll the aggregate (sorted by cell) up per micro cell: ``cell, n, vehicles, sx, sy, sz``."""
    cells = agg["cell"].to_numpy(np.uint64)
    if cells.size == 0:
        return pd.DataFrame({c: pd.Series(dtype=_AGG_DTYPES[c]) for c in ("cell", "n")}).assign(
            vehicles=pd.Series(dtype=np.int64), sx=0, sy=0, sz=0
        )
    if (cells[1:] < cells[:-1]).any():
        raise ValueError("the aggregate must be sorted by cell")
    start = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    out = {"cell": cells[start], "n": np.add.reduceat(agg["n"].to_numpy(np.int64), start)}
    out["vehicles"] = np.diff(np.r_[start, cells.size]).astype(np.int64)
    for col in ("sx", "sy", "sz"):
        out[col] = np.add.reduceat(agg[col].to_numpy(np.int64), start)
    return pd.DataFrame(out)


def unit_sums(sums: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Unit vectors (float64) from (fixed-point) sums of unit vectors, one per row."""
    v = np.asarray(sums, dtype=np.float64).reshape(-1, 3)
    return v / np.linalg.norm(v, axis=1, keepdims=True) if v.size else v


def cluster_micro_points(
    micro: pd.DataFrame,
    params: ClusterParams,
    mapper: Mapper = map,
) -> npt.NDArray[np.int64]:
    """Labels (``0..k-1`` in no particular order, -1 noise) of the micro-points."""
    xyz = unit_sums(micro[["sx", "sy", "sz"]].to_numpy())
    weights = micro["n"].to_numpy(np.float64)
    labels = cluster_points(
        xyz,
        weights,
        micro["cell"].to_numpy(np.uint64),
        params.eps_m,
        params.min_samples,
        partition_res=params.partition_res,
        mapper=mapper,
    )
    return refine_labels(xyz, weights, labels, params)


def refine_labels(
    xyz: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    params: ClusterParams,
) -> npt.NDArray[np.int64]:
    """DBSCAN labels split into density modes (:func:`geo.modes.split_modes`) when
    ``params.split_modes``, then isolated groups of noise rescued
    (:func:`geo.cluster.rescue_noise`) unless ``params.rescue_min_sessions`` is 0, then thin
    clusters joined in mutual nearest pairs (:func:`geo.cluster.join_thin_pairs`) unless
    ``params.join_thin_m`` is 0 (each step on its own); points are the micro-points in cell
    order (their ids)."""
    if params.split_modes:
        modes = ModeParams(
            eps_m=params.eps_m,
            bandwidth_m=params.mode_bandwidth_m,
            link_m=params.mode_link_m,
            persistence=params.mode_persistence,
            min_weight=params.mode_min_sessions,
            max_site_m=params.mode_max_site_m,
        )
        labels = split_modes(xyz, weights, labels, modes)
    if params.rescue_min_sessions > 0:
        labels = rescue_noise(
            xyz, weights, labels, params.rescue_eps_m, params.rescue_min_sessions,
            params.rescue_clearance_m,
        )  # fmt: skip
    if params.join_thin_m > 0:
        labels = join_thin_pairs(xyz, weights, labels, params.mode_min_sessions, params.join_thin_m)
    return labels


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
    agg: pd.DataFrame,
    cell_labels: pd.Series,
    visitor_min_once: int = ClusterParams.visitor_min_once,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """One row per cluster from the aggregate and each micro cell's label.

    Parameters
    ----------
    agg : DataFrame
        The (micro cell, vehicle) aggregate (AGGREGATE_COLUMNS).
    cell_labels : Series
        Label per micro cell (index: uint64 cell; any numbering, -1 noise).
    visitor_min_once : int, default ``ClusterParams.visitor_min_once``
        From this many drivers seen once at a site, each driver's mean position weighs one
        over its sessions there, not one.

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
    lat, lon = unit_vectors_to_latlng(_visitor_weighted_sums(a, lm, k, visitor_min_once))
    relabel, order = order_labels(np.arange(k), lat, lon)
    cl = relabel[lm]

    # per-cluster reductions over rows sorted by (cluster, vehicle)
    vkey = a["vkey"].to_numpy(np.uint64)
    by = np.lexsort((vkey, cl))
    cl, vkey = cl[by], vkey[by]
    start = np.flatnonzero(np.r_[True, cl[1:] != cl[:-1]]) if cl.size else _EMPTY

    def reduce(ufunc: np.ufunc, col: str) -> npt.NDArray:
        return ufunc.reduceat(a[col].to_numpy(_AGG_DTYPES[col])[by], start) if k else _EMPTY

    new_vehicle = np.r_[True, (cl[1:] != cl[:-1]) | (vkey[1:] != vkey[:-1])][: cl.size]
    vehicles = np.add.reduceat(new_vehicle.astype(np.int64), start) if k else _EMPTY
    sessions = reduce(np.add, "n")
    n_known, n_dc = reduce(np.add, "n_known"), reduce(np.add, "n_dc")
    pmax = reduce(np.fmax, "pmax")
    first, last = reduce(np.minimum, "first_day"), reduce(np.maximum, "last_day")

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
            "max_power_kw": pmax.astype(np.float64),
        }
    )
    return sites[list(SITE_CORE_COLUMNS)], relabel


def summarise_labels(
    sessions: pd.DataFrame, labels: npt.ArrayLike, params: ClusterParams
) -> pd.DataFrame:
    """:func:`summarise_sites` for sessions labelled directly (not through their micro cell).

    For sites whose sessions were relabelled after clustering (``pipelines.mixtures``). Each
    label is one pseudo micro cell, so positions, counts and power come out exactly as for a
    clustered site.

    Parameters
    ----------
    sessions : DataFrame
        Sessions with the lake's columns (as for :func:`find_sites`).
    labels : array_like of int64
        Site of each row of ``sessions``; rows labelled ``-1`` are left out.
    params : ClusterParams
        Which sessions are usable, and ``visitor_min_once``.

    Returns
    -------
    DataFrame
        ``SITE_CORE_COLUMNS``, one row per label with a usable session, ``cluster`` = the
        label, sorted by it.

    Examples
    --------
    >>> s = pd.DataFrame({"vehicle": ["a", "b", "c"], "lat": [42.0, 42.0, 42.001],
    ...     "lon": [-71.0, -71.0, -71.0], "gps_accuracy_m": [5.0, 5.0, 5.0],
    ...     "plug_in_utc": pd.to_datetime(["2026-11-02 10:00"] * 3, utc=True)})
    >>> summarise_labels(s, [7, 7, 3], ClusterParams())[["cluster", "sessions", "vehicles"]]
       cluster  sessions  vehicles
    0        3         1         1
    1        7         2         2
    >>> len(summarise_labels(s, [-1, -1, -1], ClusterParams()))
    0
    """
    lab = np.asarray(labels, dtype=np.int64)
    kept = sessions.loc[lab >= 0].assign(_label=lab[lab >= 0])
    agg = aggregate_sessions(kept, params, by="_label")
    ids = np.unique(agg["part"].to_numpy(np.int64))
    agg = combine_aggregates(
        [agg.assign(cell=agg["part"].to_numpy(np.uint64)).drop(columns="part")]
    )
    cell_labels = pd.Series(np.arange(ids.size, dtype=np.int64), index=ids.astype(np.uint64))
    sites, relabel = summarise_sites(agg, cell_labels, params.visitor_min_once)
    sites["cluster"] = ids[np.argsort(relabel)]  # relabel[i] = row of label ids[i]
    return sites.sort_values("cluster", kind="stable").reset_index(drop=True)


def place_poor_fixes(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    sites: pd.DataFrame,
    params: ClusterParams,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Each poor fix given to the site it most likely came from
    (:func:`geo.cluster.likeliest_sites`); the sites' counts updated, their positions kept.

    DBSCAN places a session by where it was reported, whatever its error. A poor fix (the
    simulator's 12 % with ~20 m error) of a quiet station's driver lands outside ``eps`` and is
    noise: five drivers become four and the station looks like a household. One of a busy
    charger's drivers lands on the home 45 m away and clusters there: the home gains a
    stranger. Here every usable session reporting at least ``params.poor_fix_accuracy_m`` of
    error, clustered or noise, goes to the likeliest site within ``params.poor_fix_reach``
    times its error: the site where its vehicle's sharper fixes are, if any is within reach
    (a resident's fix goes back to the garage), else the site weighed by its sessions and
    the distance (a stranger's fix between a busy charger and a home goes to the charger
    unless it lies much nearer the home). A fix with no site within reach stays where it was;
    sharper fixes are never moved. ``poor_fix_reach`` 0 turns it off.

    Parameters
    ----------
    sessions : DataFrame
        The window's sessions (as for :func:`find_sites`).
    labels : array_like of int64
        Site of each session (``-1`` noise), aligned with ``sessions``.
    sites : DataFrame
        ``SITE_CORE_COLUMNS`` of those labels (``cluster`` = label).
    params : ClusterParams
        ``poor_fix_accuracy_m``, ``poor_fix_reach`` and which sessions are usable.

    Returns
    -------
    sites : DataFrame
        ``sites`` with sessions, vehicles, first/last seen and power recounted where fixes
        moved (positions unchanged: poor fixes do not place sites; a site left without
        sessions is gone).
    labels : int64 ndarray
        The labels after the moves.

    Examples
    --------
    Five sessions of two vehicles at a site; a poor fix 30 m off joins it, a sharp one does not.

    >>> dy = 1 / 111_195  # a metre of latitude
    >>> s = pd.DataFrame({"vehicle": list("aabbbcd"), "lon": [-71.0] * 7,
    ...     "lat": 42.0 + dy * np.array([0.0, 1.0, 0.0, 1.0, 2.0, 30.0, 30.0]),
    ...     "gps_accuracy_m": [5.0] * 5 + [20.0, 5.0],
    ...     "plug_in_utc": pd.to_datetime(["2026-11-02 10:00"] * 7, utc=True)})
    >>> p = ClusterParams()
    >>> lab0 = [0] * 5 + [-1, -1]
    >>> sites = summarise_labels(s, lab0, p)
    >>> sites2, lab = place_poor_fixes(s, lab0, sites, p)
    >>> lab.tolist(), sites2["vehicles"].tolist(), bool(sites2["lat"].equals(sites["lat"]))
    ([0, 0, 0, 0, 0, 0, -1], [3], True)
    >>> place_poor_fixes(s, [-1] * 7, sites.iloc[:0], p)[1].tolist()
    [-1, -1, -1, -1, -1, -1, -1]
    """
    lab = np.array(labels, dtype=np.int64).ravel()
    if params.poor_fix_reach <= 0 or sites.empty or "gps_accuracy_m" not in sessions:
        return sites, lab
    acc = sessions["gps_accuracy_m"].to_numpy(np.float64, na_value=np.nan)
    poor = usable_sessions(sessions, params) & (acc >= params.poor_fix_accuracy_m)
    cand = np.flatnonzero(poor)
    if cand.size == 0:
        return sites, lab
    clusters = sites["cluster"].to_numpy(np.int64)
    lat, lon = sessions["lat"].to_numpy(np.float64), sessions["lon"].to_numpy(np.float64)
    at = likeliest_sites(
        unit_vectors(lat[cand], lon[cand]),
        acc[cand],
        unit_vectors(sites["lat"].to_numpy(np.float64), sites["lon"].to_numpy(np.float64)),
        sites["sessions"].to_numpy(np.float64),
        params.poor_fix_reach,
        own=_own_sessions(sessions["vehicle"], np.where(poor, -1, lab), cand, clusters),
    )
    new = np.where(at >= 0, clusters[np.maximum(at, 0)], lab[cand])
    moved = new != lab[cand]
    if not moved.any():
        return sites, lab
    touched = np.unique(np.r_[lab[cand][moved], new[moved]])
    lab[cand] = new
    # only the sites that gave or took a fix are summarised again; none of them moves
    out = resummarise(sessions, lab, sites, touched[touched >= 0], params)
    pos = sites.set_index("cluster")[["lat", "lon"]].reindex(out["cluster"].to_numpy())
    out["lat"], out["lon"] = pos["lat"].to_numpy(), pos["lon"].to_numpy()
    return out, lab


def resummarise(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    sites: pd.DataFrame,
    touched: npt.ArrayLike,
    params: ClusterParams,
) -> pd.DataFrame:
    """``sites`` with the rows of the ``touched`` labels summarised again from ``labels``
    (:func:`summarise_labels`; a touched label left without usable sessions drops out), sorted
    by ``cluster``. For the steps that relabel a few sites' sessions after clustering.

    >>> s = pd.DataFrame({"vehicle": ["a", "b", "c"], "lat": [42.0, 42.0, 42.001],
    ...     "lon": [-71.0, -71.0, -71.0], "gps_accuracy_m": [5.0, 5.0, 5.0],
    ...     "plug_in_utc": pd.to_datetime(["2026-11-02 10:00"] * 3, utc=True)})
    >>> sites = summarise_labels(s, [0, 0, 1], ClusterParams())
    >>> resummarise(s, [0, 1, 1], sites, [0, 1], ClusterParams())["vehicles"].tolist()
    [1, 2]
    >>> resummarise(s, [0, 0, 1], sites, [], ClusterParams()).equals(sites)
    True
    """
    lab = np.asarray(labels, dtype=np.int64)
    touched = np.asarray(touched, dtype=np.int64)
    parts = summarise_labels(sessions, np.where(np.isin(lab, touched), lab, -1), params)
    kept = sites[~sites["cluster"].isin(touched)]
    merged = pd.concat([kept, parts], ignore_index=True)
    return merged.sort_values("cluster", kind="stable").reset_index(drop=True)


def _own_sessions(
    vehicle: pd.Series,
    lab: npt.NDArray[np.int64],
    cand: npt.NDArray[np.int64],
    clusters: npt.NDArray[np.int64],
) -> sparse.csr_matrix:
    """Sessions of each candidate's vehicle at each site, by ``lab`` (-1: not counted), as a
    sparse (len(cand), len(clusters)) matrix; sites by position in ``clusters``."""
    codes, _ = pd.factorize(vehicle, sort=False)
    pos = np.full(int(clusters.max(initial=-1)) + 1, -1, dtype=np.int64)
    pos[clusters] = np.arange(clusters.size)
    m = lab >= 0
    at = pos[lab[m]]
    keep = at >= 0
    by_vehicle = sparse.csr_matrix(
        (np.ones(int(keep.sum())), (codes[m][keep], at[keep])),
        shape=(int(codes.max(initial=-1)) + 1, clusters.size),
    )  # duplicates summed: sessions per (vehicle, site)
    return by_vehicle[codes[cand]]


def _visitor_weighted_sums(
    a: pd.DataFrame, lm: npt.NDArray[np.int64], k: int, min_once: int
) -> npt.NDArray[np.float64]:
    """Per cluster, the sum over its vehicles of each vehicle's mean unit vector there; at a
    cluster where at least ``min_once`` vehicles plugged in once, each weighted by one over the
    vehicle's sessions there.

    Where a public charger and a workplace car park or a home a few metres away chain into one
    site, the site should sit where the public plugs in. Counting each driver once keeps one
    household's many sessions from pulling it. Where many drivers came once, weighting each by
    one over its sessions also keeps a workplace's thirty commuters, back every weekday, from
    pulling it off a charger that a hundred drivers used once. Elsewhere each driver counts
    once: a regular's many fixes average out its GPS noise, which one over its sessions would
    throw away. Integer per-vehicle sums, then float means summed in (cluster, vehicle) order:
    the same input gives the same bits.
    """
    if lm.size == 0:
        if k:
            raise ValueError("cell labels must number the clusters 0..k-1 without gaps")
        return np.zeros((0, 3))
    vkey = a["vkey"].to_numpy(np.uint64)
    by = np.lexsort((vkey, lm))
    lm, vkey = lm[by], vkey[by]
    start = np.flatnonzero(np.r_[True, (lm[1:] != lm[:-1]) | (vkey[1:] != vkey[:-1])])
    n = np.add.reduceat(a["n"].to_numpy(np.int64)[by], start)
    per_vehicle = np.stack(
        [np.add.reduceat(a[c].to_numpy(np.int64)[by], start) for c in ("sx", "sy", "sz")], axis=1
    ) / n[:, None].astype(np.float64)
    cluster = lm[start]
    first = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]])
    if first.size != k or cluster[-1] != k - 1:
        raise ValueError("cell labels must number the clusters 0..k-1 without gaps")
    once = np.bincount(cluster, weights=n == 1, minlength=k)
    w = np.where(once[cluster] >= min_once, 1.0 / n, 1.0)
    return np.add.reduceat(per_vehicle * w[:, None], first)


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
    mapper: Mapper = map,
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
    sites, relabel = summarise_sites(agg, cell_labels, params.visitor_min_once)
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
