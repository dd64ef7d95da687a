"""Split DBSCAN clusters at density valleys: one site per density mode.

DBSCAN with a fixed ``eps`` and ``min_samples`` chains in dense fleets: homes 20 m apart on a
street, a home 50 m from a busy charger, two downtown stations 100 m apart bridged by poor GPS
fixes all become one "site" (trackintel #600; ``docs/clustering.md``). No single density
threshold fixes that: a quiet rural charger has fewer sessions than the bridge between two busy
city ones.

:func:`split_modes` keeps DBSCAN's answer to *which points are clustered* and splits each
cluster into its density modes, in the manner of quick shift (Vedaldi & Soatto 2008) with
persistence-based merging (ToMATo, Chazal et al. 2013):

1. **Density.** Each point gets a Gaussian kernel density ``rho`` (bandwidth ``bandwidth_m``)
   from the weights of the points of its cluster within ``eps_m``.
2. **Basins.** Each point links to its nearest point of higher density within ``eps_m``
   (ties: lower id); following the links ends at a *mode*. A mode's basin is the points that
   end there.
3. **Weak basins** (total weight below ``min_weight``: a poor GPS fix or two on a site's fringe)
   are not sites: they join the strong basin of their cluster nearest to them.
4. **Persistence.** Strong basins are joined across *saddles* (the highest ``min(rho_i, rho_j)``
   over point pairs within ``link_m`` across their border), highest saddle first, with a
   union-find as in ToMATo: two components whose saddle is at least ``persistence`` times the
   lower of their *components'* peaks are one site. A wide car park with several bays is one
   density hill with bumps, two homes 20 m apart are two hills with a valley between, and a
   home between two stations joins one of them without joining the two.

A cluster without any strong basin stays whole. Everything is vectorized over all clusters at
once; the answer depends only on the points and their ids (not on their order), so the
partitioned and incremental paths that produce equal DBSCAN labels produce equal splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from geo.distance import chord_from_m, m_from_chord

__all__ = ["ModeParams", "split_modes"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ModeParams:
    """How :func:`split_modes` finds and merges modes.

    Attributes
    ----------
    eps_m : float
        Neighbourhood of the density estimate and of the mode links (DBSCAN's ``eps``).
    bandwidth_m : float
        Gaussian kernel sigma of the density (about the GPS error of a good fix).
    link_m : float
        Point pairs closer than this form the saddles between basins.
    persistence : float
        Basins whose saddle is at least this share of the lower peak are merged (0..1; 0 merges
        every touching pair, 1 keeps every mode apart).
    min_weight : float
        Basins lighter than this join their nearest strong basin.
    max_site_m : float
        A cluster is split only if one of its strong modes lies farther than this from its
        highest mode; a bumpy garage or car park within this size stays one site.
    """

    eps_m: float
    bandwidth_m: float
    link_m: float
    persistence: float
    min_weight: float
    max_site_m: float


def split_modes(
    xyz: npt.ArrayLike,
    weights: npt.ArrayLike,
    labels: npt.ArrayLike,
    params: ModeParams,
    ids: npt.ArrayLike | None = None,
) -> IntArray:
    """Split clusters into density modes (see the module docstring).

    Parameters
    ----------
    xyz : array_like, shape (n, 3)
        Unit vectors.
    weights : array_like, shape (n,)
        Point weights (sessions per micro-point).
    labels : array_like of int, shape (n,)
        DBSCAN labels (``-1`` noise, left as is).
    params : ModeParams
        Kernel, link, persistence and size thresholds.
    ids : array_like of int, optional
        Stable point ids for ties (default: position).

    Returns
    -------
    int64 ndarray
        New labels, ``0..k-1`` numbered by each site's smallest point id; noise ``-1``.

    Examples
    --------
    Two homes 20 m apart (8 sessions each, GPS scatter of ~3 m) chained by DBSCAN at 15 m come
    apart; a single station stays one site; noise and empty input pass through.

    >>> from geo.distance import unit_vectors
    >>> dy = 1 / 111_195  # one metre of latitude, in degrees
    >>> lat = 42.0 + dy * np.array([-3, 0, 3, 10, 17, 20, 23, 500.0])
    >>> xyz = unit_vectors(lat, np.full(8, -71.0))
    >>> w = [2, 4, 2, 1, 2, 4, 2, 1]
    >>> p = ModeParams(eps_m=15, bandwidth_m=5, link_m=8, persistence=0.5, min_weight=3,
    ...                max_site_m=15)
    >>> split_modes(xyz, w, [0, 0, 0, 0, 0, 0, 0, -1], p)
    array([ 0,  0,  0,  0,  1,  1,  1, -1])
    >>> split_modes(xyz[:4], w[:4], [0, 0, 0, 0], p)
    array([0, 0, 0, 0])
    >>> split_modes(np.empty((0, 3)), [], [], p)
    array([], dtype=int64)
    """
    v = np.ascontiguousarray(xyz, dtype=np.float64).reshape(-1, 3)
    w = np.asarray(weights, dtype=np.float64).ravel()
    lab = np.asarray(labels, dtype=np.int64).ravel()
    n = lab.size
    pid = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    out = np.full(n, -1, dtype=np.int64)
    member = np.flatnonzero(lab >= 0)
    if member.size == 0:
        return out
    pl, pp = lab[member], pid[member]
    # a cluster within max_site_m / 2 of its centroid has no two points, so no two modes,
    # farther apart than max_site_m: it stays whole without estimating its density
    wide = ~_compact(v[member], pl, params.max_site_m / 2.0)[pl]
    site = -1 - pl  # whole clusters: negative ids, distinct per cluster
    if wide.any():
        idx = member[wide]
        site[wide] = _modes(v[idx], w[idx], pl[wide], pp[wide], params)
    _, site = np.unique(site, return_inverse=True)
    out[member] = _renumber(site.ravel(), pp)
    return out


def _compact(
    v: npt.NDArray[np.float64], labels: IntArray, radius_m: float
) -> npt.NDArray[np.bool_]:
    """Per cluster label: do all its points lie within ``radius_m`` of its centroid?"""
    k = int(labels.max()) + 1
    c = np.stack([np.bincount(labels, v[:, i], minlength=k) for i in range(3)], axis=1)
    c /= np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-300)
    far = np.zeros(k)
    np.maximum.at(far, labels, np.linalg.norm(v - c[labels], axis=1))
    return m_from_chord(far) <= radius_m


def _modes(
    pv: npt.NDArray[np.float64],
    pw: npt.NDArray[np.float64],
    pl: IntArray,
    pp: IntArray,
    p: ModeParams,
) -> IntArray:
    """Steps 1-4 of the module docstring on the points of the clusters that may be split:
    a site id (>= 0, arbitrary order) per point."""
    m = pl.size
    eps_m, bandwidth_m, link_m = p.eps_m, p.bandwidth_m, p.link_m
    persistence, min_weight, max_site_m = p.persistence, p.min_weight, p.max_site_m

    # 1. density from neighbours of the same cluster within eps
    pairs = cKDTree(pv).query_pairs(float(chord_from_m(eps_m)), output_type="ndarray")
    i, j = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    same = pl[i] == pl[j]
    i, j = i[same], j[same]
    d = m_from_chord(np.linalg.norm(pv[i] - pv[j], axis=1))
    k = np.exp(-0.5 * (d / bandwidth_m) ** 2)
    rho = pw + np.bincount(i, pw[j] * k, minlength=m) + np.bincount(j, pw[i] * k, minlength=m)

    # 2. basins: link to the nearest point of higher (rho, -id), follow links to the mode
    a, b = np.concatenate([i, j]), np.concatenate([j, i])
    dd = np.concatenate([d, d])
    up = (rho[b] > rho[a]) | ((rho[b] == rho[a]) & (pp[b] < pp[a]))
    a, b, dd = a[up], b[up], dd[up]
    order = np.lexsort((pp[b], dd, a))
    a, b = a[order], b[order]
    first = np.r_[True, a[1:] != a[:-1]] if a.size else np.zeros(0, bool)
    parent = np.arange(m, dtype=np.int64)
    parent[a[first]] = b[first]
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    basin = parent  # index of the mode

    # 3. strong basins; 4. merge strong basins across high saddles
    mass = np.bincount(basin, pw, minlength=m)
    strong = mass[basin] >= min_weight
    near = (d <= link_m) & (basin[i] != basin[j]) & strong[i] & strong[j]
    si, sj = basin[i[near]], basin[j[near]]
    saddle = np.minimum(rho[i[near]], rho[j[near]])
    site = _merge_persistent(si, sj, saddle, rho, pp, persistence, m)[basin]

    # weak basins join the strong site nearest to them, within their own cluster
    weak = ~strong
    has_strong = np.bincount(pl, strong, minlength=int(pl.max()) + 1) > 0
    movers = np.flatnonzero(weak & has_strong[pl])
    if movers.size:
        targets = np.flatnonzero(strong)
        # a 4th coordinate keeps clusters apart (unit vectors are at most 2 apart)
        sep = 4.0 * pl.astype(np.float64)
        tree = cKDTree(np.c_[pv[targets], sep[targets]])
        dist, hit = tree.query(np.c_[pv[movers], sep[movers]])
        best = np.lexsort((pp[targets[hit]], dist, basin[movers]))
        mb = basin[movers][best]
        head = np.r_[True, mb[1:] != mb[:-1]]
        to_site = np.full(m, -1, dtype=np.int64)
        to_site[mb[head]] = site[targets[hit[best][head]]]
        site[movers] = to_site[basin[movers]]
    # a cluster without a strong basin, or whose strong modes all lie within max_site_m of its
    # highest one (one car park, garage or station, however bumpy its density), stays whole
    lonely = ~has_strong[pl] | ~_wide(pv, rho, pp, pl, basin, strong, max_site_m)[pl]
    if lonely.any():
        site[lonely] = m + pl[lonely]  # distinct from every component id (< m)
    return site


def _merge_persistent(
    si: IntArray,
    sj: IntArray,
    saddle: npt.NDArray[np.float64],
    rho: npt.NDArray[np.float64],
    pp: IntArray,
    persistence: float,
    m: int,
) -> IntArray:
    """Step 4: merge strong basins across saddles, highest saddle first (ToMATo's union-find).

    Two *components* merge when their saddle is at least ``persistence`` times the lower of
    their peaks; a component's peak is its highest mode's. Comparing each pair of basins alone
    instead chains a row of sites: a home between two stations 60 m apart merges with each
    (its own peak is low), and the stations become one site through it.

    Returns the root basin of each point index (only basin modes are looked at).
    """
    lo, hi = np.minimum(si, sj), np.maximum(si, sj)
    # one edge per basin pair, its highest saddle; then the edges by saddle, highest first
    order = np.lexsort((-saddle, hi, lo))
    lo, hi, saddle = lo[order], hi[order], saddle[order]
    first = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])][: lo.size]
    lo, hi, saddle = lo[first], hi[first], saddle[first]
    # a component's peak is at least each member's: an edge that fails against its own two
    # basins' peaks fails against their components' too, so only the others enter the loop
    ok = saddle >= persistence * np.minimum(rho[lo], rho[hi])
    lo, hi, saddle = lo[ok], hi[ok], saddle[ok]
    order = np.lexsort((pp[hi], pp[lo], -saddle))
    root = np.arange(m, dtype=np.int64)
    par = {}  # union-find over the few basins that have edges (one loop step per edge)
    peak = rho.tolist()
    rank = pp.tolist()

    def find(x: int) -> int:
        while par.get(x, x) != x:
            par[x] = par.get(par[x], par[x])
            x = par[x]
        return x

    for a, b, s in zip(lo[order].tolist(), hi[order].tolist(), saddle[order].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra == rb or s < persistence * min(peak[ra], peak[rb]):
            continue
        if (peak[rb], -rank[rb]) > (peak[ra], -rank[ra]):
            ra, rb = rb, ra
        par[rb] = ra
    for x in par:
        root[x] = find(x)
    return root


def _wide(
    pv: npt.NDArray[np.float64],
    rho: npt.NDArray[np.float64],
    pp: IntArray,
    pl: IntArray,
    basin: IntArray,
    strong: npt.NDArray[np.bool_],
    max_site_m: float,
) -> npt.NDArray[np.bool_]:
    """Per cluster label: does a strong mode lie farther than ``max_site_m`` from the highest?"""
    k = int(pl.max()) + 1
    modes = np.flatnonzero((basin == np.arange(basin.size)) & strong)
    wide = np.zeros(k, dtype=bool)
    if modes.size == 0:
        return wide
    order = np.lexsort((pp[modes], -rho[modes], pl[modes]))
    modes = modes[order]
    head = np.r_[True, pl[modes][1:] != pl[modes][:-1]]
    top = np.empty(k, dtype=np.int64)
    top[pl[modes][head]] = modes[head]
    far = m_from_chord(np.linalg.norm(pv[modes] - pv[top[pl[modes]]], axis=1)) > max_site_m
    wide[pl[modes][far]] = True
    return wide


def _renumber(site: IntArray, pid: IntArray) -> IntArray:
    """Renumber ``0..k-1`` by each site's smallest point id."""
    k = int(site.max()) + 1
    min_id = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(min_id, site, pid)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(min_id, kind="stable")] = np.arange(k)
    return rank[site]
