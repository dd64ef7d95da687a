"""The clustering kernel: weighted DBSCAN on unit vectors, partitioned by coarse H3 cell.

Points are 3-D unit vectors (:func:`geo.distance.unit_vectors`) with weights (sessions per
micro-point). DBSCAN runs with a Euclidean KD-tree and ``eps`` converted to a chord, which is
exactly "within ``eps_m`` metres along the great circle" with no lat/lon order to get wrong and
no seam at the antimeridian.

Semantics are scikit-learn's ``DBSCAN(eps=chord, min_samples=m).fit(xyz, sample_weight=w)``:

* a point is *core* when the weights of the points within ``eps`` (itself included) sum to
  at least ``min_samples``;
* clusters are the connected components of core points within ``eps`` of each other;
* a non-core point within ``eps`` of a core point is a *border* point. scikit-learn gives it to
  whichever cluster its expansion reaches first (an order artefact); here it goes to the cluster
  of its **nearest** core point, ties to the smaller point id, so the answer does not depend on
  the order of the input or on the partitioning;
* everything else is noise, ``-1``.

Partitioning (for memory, incremental runs and scale-out): every point is *owned* by the
partition of its micro cell's parent at ``partition_res``. A partition also receives a *halo*:
the points of neighbouring partitions within ``2 * eps`` of its own. With that halo, every owned
point's core status and nearest core point are exact, and every core-core link has an owned end
in some partition. Each partition is clustered independently (:func:`cluster_partition`, a pure
function: map it over partitions with any executor, e.g. Dask); :func:`stitch` joins local
clusters that share a core point, giving exactly the labels of :func:`dbscan_weighted` on all
points at once.

Halo membership uses H3 only: the ``k = 1`` disk around a point's ancestor cell at a resolution
whose cells are at least twice ``2 * eps`` across (:func:`halo_resolution`). Two points within
``2 * eps`` have ancestors at most one grid step apart there (tested on random pairs worldwide).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix, spmatrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.distance import chord_from_m, m_from_chord, unit_vectors_to_latlng
from geo.h3cells import cell_to_parent, grid_disk_parents, latlng_to_cells

__all__ = [
    "Partition",
    "PartitionResult",
    "batch_partitions",
    "cluster_centroids",
    "cluster_partition",
    "cluster_partitions",
    "cluster_points",
    "dask_mapper",
    "dbscan_weighted",
    "halo_resolution",
    "join_thin_pairs",
    "likeliest_sites",
    "order_labels",
    "rescue_noise",
    "run_partitions",
    "split_partitions",
    "stitch",
]

IntArray = npt.NDArray[np.int64]
#: ``mapper(func, items)`` -> results in order: ``map``, ``Executor.map``, :func:`dask_mapper`
Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------------
def dbscan_weighted(
    xyz: npt.ArrayLike,
    weights: npt.ArrayLike,
    eps_m: float,
    min_samples: float,
    ids: npt.ArrayLike | None = None,
) -> tuple[IntArray, BoolArray]:
    """Weighted DBSCAN of unit vectors, border points to their nearest core point.

    Parameters
    ----------
    xyz : array_like, shape (n, 3)
        Unit vectors.
    weights : array_like, shape (n,)
        Point weights (e.g. sessions per micro-point), >= 0.
    eps_m : float
        Neighbourhood radius in metres along the great circle (inclusive, as scikit-learn).
    min_samples : float
        Minimum summed weight within ``eps`` (the point itself included) of a core point.
    ids : array_like of int, optional
        Stable point ids used to break ties between equidistant core points (default: position).

    Returns
    -------
    labels : int64 array
        Cluster of each point, ``0..k-1`` numbered by each cluster's smallest point id;
        ``-1`` for noise.
    core : bool array
        Whether each point is a core point.

    Examples
    --------
    Five sessions in one cell and one 20 m away form a cluster; a point 200 m away is noise.

    >>> from geo.distance import unit_vectors
    >>> xyz = unit_vectors([35.0, 35.0 + 20 / 111_195, 35.0 + 200 / 111_195], [139.0] * 3)
    >>> dbscan_weighted(xyz, [5, 1, 1], eps_m=25, min_samples=3)
    (array([ 0,  0, -1]), array([ True,  True, False]))
    """
    v = np.ascontiguousarray(xyz, dtype=np.float64).reshape(-1, 3)
    w = np.asarray(weights, dtype=np.float64).ravel()
    n = v.shape[0]
    pid = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    pairs = cKDTree(v).query_pairs(float(chord_from_m(eps_m)), output_type="ndarray")
    i, j = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    reach = w + np.bincount(i, w[j], minlength=n) + np.bincount(j, w[i], minlength=n)
    core = reach >= min_samples

    labels = np.full(n, -1, dtype=np.int64)
    both = core[i] & core[j]
    graph = coo_matrix((np.ones(int(both.sum()), dtype=np.int8), (i[both], j[both])), (n, n))
    _, comp = connected_components(graph, directed=False)
    labels[core] = comp[core]

    # border points: the cluster of the nearest core neighbour, ties to the smaller id
    b_of_j = core[i] & ~core[j]
    b_of_i = core[j] & ~core[i]
    border = np.concatenate([j[b_of_j], i[b_of_i]])
    if border.size:
        anchor = np.concatenate([i[b_of_j], j[b_of_i]])
        dist = np.linalg.norm(v[border] - v[anchor], axis=1)
        order = np.lexsort((pid[anchor], dist, border))
        border, anchor = border[order], anchor[order]
        first = np.r_[True, border[1:] != border[:-1]]
        labels[border[first]] = labels[anchor[first]]
    return _renumber_by_min_id(labels, pid), core


def _renumber_by_min_id(labels: IntArray, pid: IntArray) -> IntArray:
    """Renumber clusters ``0..k-1`` in the order of their smallest point id (noise stays -1)."""
    member = labels >= 0
    if not member.any():
        return labels
    lab = labels[member]
    uniq, inverse = np.unique(lab, return_inverse=True)
    min_id = np.full(uniq.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(min_id, inverse, pid[member])
    rank = np.empty(uniq.size, dtype=np.int64)
    rank[np.argsort(min_id, kind="stable")] = np.arange(uniq.size)
    out = labels.copy()
    out[member] = rank[inverse]
    return out


def rescue_noise(
    xyz: npt.ArrayLike,
    weights: npt.ArrayLike,
    labels: npt.ArrayLike,
    eps_m: float,
    min_samples: float,
    clearance_m: float,
) -> IntArray:
    """Give isolated groups of noise points clusters of their own, from a wider DBSCAN.

    A quiet station in a wide car park (bays up to 15 m from its centre) may have five sessions
    no two of which lie within the first DBSCAN's ``eps``: all noise. A second DBSCAN over the
    noise points alone, with a wider ``eps_m`` and ``min_samples``, finds them. A group with a
    point within ``clearance_m`` of a clustered point is the fringe of that cluster (poor fixes
    around a busy site) and stays noise: a site of its own there would split a station.

    Parameters
    ----------
    xyz, weights : array_like
        Unit vectors (n, 3) and point weights (n,), as for :func:`dbscan_weighted`.
    labels : array_like of int
        The first clustering (``-1`` noise); point ids for ties are positions.
    eps_m, min_samples : float
        The second DBSCAN's radius (metres) and minimum weight of a core point.
    clearance_m : float
        Groups closer than this to a clustered point are not rescued.

    Returns
    -------
    int64 ndarray
        ``labels`` with the rescued groups numbered after the existing clusters, in the order
        of their smallest point position.

    Examples
    --------
    Four single sessions 12-25 m apart (noise at eps 10 m) become cluster 1; a lone point
    stays noise; nothing to do on empty input.

    >>> from geo.distance import unit_vectors
    >>> dy = 1 / 111_195  # a metre of latitude
    >>> lat = 42.0 + dy * np.array([0, 5, 1000, 1012, 1025, 1037, 5000.0])
    >>> xyz = unit_vectors(lat, np.full(7, -71.0))
    >>> rescue_noise(xyz, np.ones(7), [0, 0, -1, -1, -1, -1, -1], 30, 4, 40)
    array([ 0,  0,  1,  1,  1,  1, -1])
    >>> rescue_noise(np.empty((0, 3)), [], [], 30, 4, 40)
    array([], dtype=int64)
    """
    v = np.ascontiguousarray(xyz, dtype=np.float64).reshape(-1, 3)
    w = np.asarray(weights, dtype=np.float64).ravel()
    out = np.array(labels, dtype=np.int64).ravel()
    noise = np.flatnonzero(out < 0)
    if noise.size == 0:
        return out
    sub, _ = dbscan_weighted(v[noise], w[noise], eps_m, min_samples, ids=noise)
    clustered = out >= 0
    if clustered.any():
        dist, _ = cKDTree(v[clustered]).query(
            v[noise], distance_upper_bound=float(chord_from_m(clearance_m))
        )
        fringe = np.unique(sub[np.isfinite(dist) & (sub >= 0)])
        sub[np.isin(sub, fringe)] = -1
    keep = sub >= 0
    _, rank = np.unique(sub[keep], return_inverse=True)  # sub is numbered by smallest position
    out[noise[keep]] = out.max(initial=-1) + 1 + rank.ravel()
    return out


def likeliest_sites(
    xyz: npt.ArrayLike,
    sigma_m: npt.ArrayLike,
    site_xyz: npt.ArrayLike,
    site_weight: npt.ArrayLike,
    reach: float,
    nearest: int = 8,
    own: spmatrix | None = None,
) -> IntArray:
    """The site each point most likely came from, given its own position error; ``-1`` where
    no site is within ``reach`` times that error.

    Among the ``nearest`` sites within ``reach * sigma_m`` of a point, the one with the
    largest ``weight * exp(-d**2 / (2 * sigma**2))``: a poor fix 30 m from a quiet station
    with nothing else near belongs to it; one between a busy charger and a home 45 m from it
    belongs to the charger unless it lies much nearer the home. Where ``own`` gives a point
    positive weights at sites within reach, only those sites and weights count. Ties go to the
    lower site position.

    Parameters
    ----------
    xyz : array_like
        Unit vectors (n, 3) of the points.
    sigma_m : array_like
        Each point's position error (metres, > 0), e.g. its reported GPS accuracy.
    site_xyz, site_weight : array_like
        Unit vectors (k, 3) of the sites and their weights (k,), e.g. sessions.
    reach : float
        Largest distance, in sigmas, from a point to its site.
    nearest : int, default 8
        Sites weighed per point.
    own : scipy.sparse matrix (n, k), optional
        Each point's own weight of each site, e.g. its vehicle's other sessions there: a
        garage resident's poor fix goes back to the garage, not to the busier charger beside
        it.

    Returns
    -------
    int64 ndarray
        Position in ``site_xyz`` of each point's site, ``-1`` where none is within reach.

    Examples
    --------
    A point 30 m from a 5-session site with a 20 m error belongs to it; with a 5 m error to
    none. A point 24 m from a 5-session site and 26 m from a 500-session one belongs to the
    busy one, unless it is known at the quiet one.

    >>> from scipy.sparse import csr_matrix
    >>> from geo.distance import unit_vectors
    >>> dy = 1 / 111_195  # a metre of latitude
    >>> sites = unit_vectors(42.0 + dy * np.array([0.0, 50.0, 200.0]), np.full(3, -71.0))
    >>> pts = unit_vectors(42.0 + dy * np.array([230.0, 230.0, 24.0]), np.full(3, -71.0))
    >>> likeliest_sites(pts, [20.0, 5.0, 20.0], sites, [5, 500, 5], 2.0)
    array([ 2, -1,  1])
    >>> own = csr_matrix(([3.0], ([2], [0])), shape=(3, 3))
    >>> likeliest_sites(pts, [20.0, 5.0, 20.0], sites, [5, 500, 5], 2.0, own=own)
    array([ 2, -1,  0])
    >>> likeliest_sites(np.empty((0, 3)), [], sites, [5, 500, 5], 2.0)
    array([], dtype=int64)
    """
    v = np.ascontiguousarray(xyz, dtype=np.float64).reshape(-1, 3)
    sigma = np.asarray(sigma_m, dtype=np.float64).ravel()
    s = np.ascontiguousarray(site_xyz, dtype=np.float64).reshape(-1, 3)
    out = np.full(len(v), -1, dtype=np.int64)
    if len(v) == 0 or len(s) == 0:
        return out
    k = min(int(nearest), len(s))
    bound = float(chord_from_m(reach * float(sigma.max())))
    dist, idx = cKDTree(s).query(v, k=k, distance_upper_bound=bound)
    dist, idx = dist.reshape(len(v), k), idx.reshape(len(v), k)
    found = np.isfinite(dist)
    idx = np.where(found, idx, 0)  # missing neighbours come back as len(s)
    d = m_from_chord(np.where(found, dist, 0.0))
    ok = found & (d <= reach * sigma[:, None])
    weight = np.asarray(site_weight, dtype=np.float64).ravel()[idx]
    if own is not None:
        rows = np.repeat(np.arange(len(v)), k)
        mine = np.asarray(own.tocsr()[rows, idx.ravel()], dtype=np.float64).reshape(-1, k)
        mine = np.where(ok, mine, 0.0)
        known = (mine > 0).any(axis=1, keepdims=True)
        weight = np.where(known, mine, weight)
        ok &= ~known | (mine > 0)
    with np.errstate(divide="ignore"):
        score = np.where(ok, np.log(weight) - d**2 / (2.0 * sigma[:, None] ** 2), -np.inf)
    best = np.lexsort((np.where(ok, idx, len(s)), -score), axis=1)[:, 0]  # ties: lower site
    row = np.arange(len(v))
    return np.where(ok[row, best], idx[row, best], -1).astype(np.int64)


def join_thin_pairs(
    xyz: npt.ArrayLike,
    weights: npt.ArrayLike,
    labels: npt.ArrayLike,
    max_weight: float,
    radius_m: float,
) -> IntArray:
    """Join two thin clusters that are each other's nearest thin cluster within ``radius_m``.

    A quiet station's few sessions may fall into two groups, each dense enough for DBSCAN,
    with a gap wider than ``eps`` between them: two sites for one station. Two clusters
    lighter than ``max_weight`` whose weighted centroids are within ``radius_m`` of each
    other, and each the other's nearest such cluster, become one. Only mutual pairs join, so
    a row of thin clusters (fragments of neighbouring homes) never chains into one.

    Parameters
    ----------
    xyz, weights : array_like
        Unit vectors (n, 3) and point weights (n,), as for :func:`dbscan_weighted`.
    labels : array_like of int
        Cluster labels ``0..k-1`` (``-1`` noise).
    max_weight : float
        Clusters with at least this total weight are left alone.
    radius_m : float
        Largest centroid distance of a joined pair (metres).

    Returns
    -------
    int64 ndarray
        ``labels`` with each joined pair under the smaller label, renumbered ``0..k'-1`` in
        the order of the old labels.

    Examples
    --------
    Two groups of three sessions 17 m apart become one cluster; a third group 60 m off and a
    heavy cluster stay as they are; nothing to do on empty input.

    >>> from geo.distance import unit_vectors
    >>> dy = 1 / 111_195  # a metre of latitude
    >>> lat = 42.0 + dy * np.array([0, 2, 4, 21, 23, 25, 85, 87, 89, 500])
    >>> xyz = unit_vectors(lat, np.full(10, -71.0))
    >>> w = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 20.0])
    >>> join_thin_pairs(xyz, w, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3], 10, 25)
    array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
    >>> join_thin_pairs(np.empty((0, 3)), [], [], 10, 25)
    array([], dtype=int64)
    """
    v = np.ascontiguousarray(xyz, dtype=np.float64).reshape(-1, 3)
    w = np.asarray(weights, dtype=np.float64).ravel()
    out = np.array(labels, dtype=np.int64).ravel()
    k = int(out.max(initial=-1)) + 1
    m = out >= 0
    mass = np.bincount(out[m], w[m], minlength=k)
    thin = np.flatnonzero(mass < max_weight)
    if thin.size < 2:
        return out
    sums = _label_sums(v * w[:, None], out, k)[thin]
    c = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    dist, j = cKDTree(c).query(c, k=2, distance_upper_bound=float(chord_from_m(radius_m)))
    near = np.where(np.isfinite(dist[:, 1]), j[:, 1], -1)
    i = np.arange(thin.size)
    mutual = (near >= 0) & (near[np.maximum(near, 0)] == i) & (i < near)
    target = np.arange(k)
    target[thin[near[mutual]]] = thin[i[mutual]]
    _, new = np.unique(target, return_inverse=True)
    return np.where(m, new.ravel()[np.maximum(out, 0)], -1)


# --------------------------------------------------------------------------------------------
# Partitions
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Partition:
    """The points one partition clusters: its own plus its halo.

    ``key`` is the coarse H3 cell; ``ids`` are global point ids (ascending); ``owned`` marks the
    partition's own points (the rest is halo).
    """

    key: int
    ids: IntArray
    xyz: FloatArray
    weights: FloatArray
    owned: BoolArray


@dataclass(frozen=True)
class PartitionResult:
    """One partition's answer: owned points and the halo's core points, with local labels."""

    key: int
    ids: IntArray
    labels: IntArray
    core: BoolArray
    owned: BoolArray


def halo_resolution(eps_m: float) -> int:
    """Finest H3 resolution whose average edge is at least ``4 * eps_m`` (twice the halo reach).

    >>> halo_resolution(25.0)
    9
    """
    for res in range(15, -1, -1):
        if h3.average_hexagon_edge_length(res, "m") >= 4.0 * eps_m:
            return res
    return 0


def split_partitions(
    xyz: npt.ArrayLike,
    weights: npt.ArrayLike,
    cells: npt.ArrayLike,
    eps_m: float,
    partition_res: int,
    only: Iterable[int] | None = None,
) -> list[Partition]:
    """Split points into partitions by the parent of their cell at ``partition_res``, with halos.

    Parameters
    ----------
    xyz, weights
        Points (unit vectors) and weights.
    cells : array_like of uint64
        Each point's (micro) H3 cell, at a resolution finer than ``partition_res`` and the halo's.
    eps_m, partition_res
        DBSCAN radius (sets the halo) and the partitions' H3 resolution.
    only : iterable of int, optional
        Build only these partitions (incremental runs re-cluster what changed).

    Returns
    -------
    list of Partition, ordered by key.
    """
    v = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    w = np.asarray(weights, dtype=np.float64).ravel()
    c = np.asarray(cells, dtype=np.uint64).ravel()
    if c.size == 0:
        return []
    hres = halo_resolution(eps_m)
    if partition_res > hres:
        raise ValueError(
            f"partition_res {partition_res} is too fine for eps {eps_m} m: partitions must be "
            f"at least H3 res {hres} cells (average edge >= 4 * eps)"
        )
    owner = cell_to_parent(c, partition_res)
    point, part = grid_disk_parents(cell_to_parent(c, hres), 1, partition_res)
    if only is not None:
        wanted = np.unique(np.fromiter(only, dtype=np.uint64))
        keep = np.isin(part, wanted)
        point, part = point[keep], part[keep]
    order = np.lexsort((point, part))
    point, part = point[order], part[order]
    starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
    bounds = np.r_[starts, part.size]
    out = []
    for a, b in itertools.pairwise(bounds):
        p, key = point[a:b], part[a]
        owned = owner[p] == key
        if owned.any():
            out.append(Partition(int(key), p, v[p], w[p], owned))
    return out


def cluster_partition(part: Partition, eps_m: float, min_samples: float) -> PartitionResult:
    """Cluster one partition (pure: arrays in, arrays out; safe to run on any worker)."""
    labels, core = dbscan_weighted(part.xyz, part.weights, eps_m, min_samples, ids=part.ids)
    keep = part.owned | (core & (labels >= 0))
    return PartitionResult(part.key, part.ids[keep], labels[keep], core[keep], part.owned[keep])


def cluster_partitions(
    parts: Sequence[Partition], eps_m: float, min_samples: float
) -> list[PartitionResult]:
    """:func:`cluster_partition` over a batch (one task per batch keeps scheduling cheap)."""
    return [cluster_partition(p, eps_m, min_samples) for p in parts]


def batch_partitions(parts: Sequence[Partition], target_points: int) -> list[list[Partition]]:
    """Group consecutive partitions into batches of about ``target_points`` points each."""
    batches: list[list[Partition]] = []
    size = 0
    for p in parts:
        if not batches or size >= target_points:
            batches.append([])
            size = 0
        batches[-1].append(p)
        size += p.ids.size
    return batches


def stitch(results: Iterable[PartitionResult], n_points: int) -> IntArray:
    """Join partition results into global labels (``0..k-1`` by smallest point id; -1 noise).

    Local clusters that share a core point are the same global cluster; each point takes the
    label its owning partition gave it. Points in no result stay -1.
    """
    res = list(results)
    ids = np.concatenate([r.ids for r in res]) if res else np.empty(0, np.int64)
    labels = np.concatenate([r.labels for r in res]) if res else np.empty(0, np.int64)
    core = np.concatenate([r.core for r in res]) if res else np.empty(0, bool)
    owned = np.concatenate([r.owned for r in res]) if res else np.empty(0, bool)
    part = np.repeat(np.arange(len(res)), [r.ids.size for r in res])
    out = np.full(n_points, -1, dtype=np.int64)
    member = labels >= 0
    if not member.any():
        return out
    # nodes: (partition, local label) pairs, as one int64 key
    width = int(labels.max()) + 1
    nodes, node = np.unique(part[member] * width + labels[member], return_inverse=True)
    m_ids, m_core = ids[member], core[member]
    # link nodes that hold the same core point
    cid, cnode = m_ids[m_core], node[m_core]
    order = np.lexsort((cnode, cid))
    cid, cnode = cid[order], cnode[order]
    same = cid[1:] == cid[:-1]
    graph = coo_matrix(
        (np.ones(int(same.sum()), np.int8), (cnode[:-1][same], cnode[1:][same])),
        (nodes.size, nodes.size),
    )
    _, comp = connected_components(graph, directed=False)
    m_owned = owned[member]
    out[m_ids[m_owned]] = comp[node[m_owned]]
    return _renumber_by_min_id(out, np.arange(n_points, dtype=np.int64))


def cluster_points(
    xyz: npt.ArrayLike,
    weights: npt.ArrayLike,
    cells: npt.ArrayLike | None,
    eps_m: float,
    min_samples: float,
    partition_res: int | None = 5,
    mapper: Mapper = map,
    batch_points: int = 50_000,
) -> IntArray:
    """Weighted DBSCAN of all points, partitioned by coarse cell when ``partition_res`` is set.

    ``mapper(func, batches)`` runs batches of partitions (about ``batch_points`` points each)
    and yields their results: the builtin ``map`` (default), ``Executor.map``, or
    :func:`dask_mapper` for a Dask cluster. ``func`` is a picklable ``functools.partial``. The
    result equals :func:`dbscan_weighted` on all points at once.
    """
    v = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    if partition_res is None or cells is None:
        return dbscan_weighted(v, weights, eps_m, min_samples)[0]
    parts = split_partitions(v, weights, cells, eps_m, partition_res)
    return stitch(run_partitions(parts, eps_m, min_samples, mapper, batch_points), v.shape[0])


def run_partitions(
    parts: Sequence[Partition],
    eps_m: float,
    min_samples: float,
    mapper: Mapper = map,
    batch_points: int = 50_000,
) -> list[PartitionResult]:
    """Cluster partitions in batches through ``mapper``; results in the order of ``parts``."""
    func = functools.partial(cluster_partitions, eps_m=eps_m, min_samples=min_samples)
    batches = batch_partitions(parts, batch_points)
    return [r for batch in mapper(func, batches) for r in batch]


def dask_mapper(client: Any) -> Mapper:
    """A mapper running each batch as a task on a Dask ``distributed.Client``.

    >>> # from distributed import Client, LocalCluster
    >>> # labels = cluster_points(..., mapper=dask_mapper(Client(LocalCluster())))
    """

    def mapper(func: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        items = list(items)
        if not items:
            return []
        return client.gather(client.map(func, items, pure=False))

    return mapper


# --------------------------------------------------------------------------------------------
# Centroids and stable label order
# --------------------------------------------------------------------------------------------
def cluster_centroids(
    vectors: npt.ArrayLike, labels: npt.ArrayLike, n_clusters: int | None = None
) -> tuple[FloatArray, FloatArray]:
    """Centroid ``(lat, lon)`` of each cluster: the direction of the sum of its vectors.

    Pass sums of unit vectors (or weighted unit vectors) per point; noise (-1) is ignored.
    """
    v = np.asarray(vectors, dtype=np.float64).reshape(-1, 3)
    lab = np.asarray(labels, dtype=np.int64)
    k = int(lab.max(initial=-1)) + 1 if n_clusters is None else n_clusters
    return unit_vectors_to_latlng(_label_sums(v, lab, k))


def _label_sums(v: FloatArray, labels: IntArray, k: int) -> FloatArray:
    """Per cluster ``0..k-1``, the sum of its rows of ``v`` (n, 3); noise (-1) is ignored."""
    m = labels >= 0
    return np.stack([np.bincount(labels[m], v[m, d], minlength=k) for d in range(3)], axis=1)


def order_labels(
    labels: npt.ArrayLike, lat: npt.ArrayLike, lon: npt.ArrayLike
) -> tuple[IntArray, IntArray]:
    """Renumber clusters by their centroid's H3 res-15 cell (then lat, lon): stable labels.

    Parameters
    ----------
    labels : int array
        Labels ``0..k-1`` (-1 noise).
    lat, lon : float arrays of length k
        Each cluster's centroid.

    Returns
    -------
    new_labels : int64 array
        ``labels`` renumbered.
    order : int64 array
        ``order[new] = old``: reorders per-cluster arrays.
    """
    la, lo = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    if la.size == 0:
        return lab.copy(), np.empty(0, dtype=np.int64)
    key = latlng_to_cells(la, lo, 15)
    order = np.lexsort((lo, la, key)).astype(np.int64)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return np.where(lab >= 0, rank[np.maximum(lab, 0)], -1), order
