"""Questions about a point's neighbours, on arrays.

A small site next to a much busier one is often not a place of its own: a home next door that
catches the busy charger's GPS spill-over, or a second charger of the same car park
(:func:`heavier_neighbour`); a thin one beside a heavier one of its kind may be that one's
fringe (:func:`nearest_heavier`: the point a light one would join). And what is normal for a
site depends on the sites around it (:func:`nearest_quantile`, :func:`nearest_mean`: a value's
quantile or mean over the nearest reference points). This module answers the geometric half
of those questions, without knowing what a site is.

>>> heavier_neighbour([0.0, 0.0, 0.0], [0.0, 0.0005, 0.01], [10, 30, 100], 90.0, 2.0).tolist()
[True, False, False]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from geo.distance import chord_from_m, unit_vectors

__all__ = ["heavier_neighbour", "nearest_heavier", "nearest_mean", "nearest_quantile"]


def heavier_neighbour(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    weight: npt.ArrayLike,
    radius_m: float,
    factor: float,
) -> npt.NDArray[np.bool_]:
    """Whether each point has another point within ``radius_m`` at least ``factor`` times as
    heavy.

    Parameters
    ----------
    lat, lon : array_like
        Positions, degrees.
    weight : array_like
        Non-negative weights (e.g. sessions per site).
    radius_m : float
        Great-circle search radius in metres (inclusive, to the chord's precision).
    factor : float
        A neighbour counts when its weight is >= ``factor`` times the point's own.

    Returns
    -------
    bool array, one per point.

    Examples
    --------
    >>> heavier_neighbour([], [], [], 90.0, 2.0).tolist()
    []
    >>> heavier_neighbour([0.0, 0.0], [0.0, 0.0005], [10, 19], 90.0, 2.0).tolist()
    [False, False]
    """
    w = np.asarray(weight, dtype=np.float64)
    out = np.zeros(len(w), dtype=bool)
    if len(w) < 2:
        return out
    tree = cKDTree(unit_vectors(lat, lon))
    pairs = tree.query_pairs(float(chord_from_m(radius_m)), output_type="ndarray")
    if len(pairs) == 0:
        return out
    i, j = pairs[:, 0], pairs[:, 1]
    out[i[w[j] >= factor * w[i]]] = True
    out[j[w[i] >= factor * w[j]]] = True
    return out


def nearest_heavier(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    weight: npt.ArrayLike,
    kind: npt.ArrayLike,
    max_weight: float,
    radius_m: float,
) -> npt.NDArray[np.int64]:
    """Index of each light point's nearest point if that one is heavier, else -1.

    A point lighter than ``max_weight`` gets the index of its nearest point when that one lies
    within ``radius_m``, is of the same ``kind``, is heavier (on a tie, the one listed first
    counts as heavier) and has no such index itself: one step deep, so a row of light points
    never chains (``pipelines.fragments`` joins a station's thin fringe into its site).

    Parameters
    ----------
    lat, lon : array_like
        Positions, degrees.
    weight : array_like
        Weights (e.g. sessions per site).
    kind : array_like
        Labels compared for equality (e.g. power class).
    max_weight : float
        Points at least this heavy get -1.
    radius_m : float
        Great-circle search radius in metres.

    Returns
    -------
    int64 array, one per point.

    Examples
    --------
    Three sessions 20 m from a ten-session site point to it; of two thin sites 26 m apart the
    lighter points to the heavier; a lone one does not, nor a DC site 20 m from an AC one;
    empty input gives an empty array.

    >>> dy = 1 / 111_195  # a metre of latitude
    >>> lat = 42.0 + dy * np.array([0, 20, 500, 526, 900, 1500, 1520])
    >>> kind = ["ac"] * 6 + ["dc"]
    >>> nearest_heavier(lat, np.full(7, -71.0), [10, 3, 5, 4, 2, 10, 3], kind, 10, 28)
    array([-1,  0, -1,  2, -1, -1, -1])
    >>> nearest_heavier([], [], [], [], 10, 28)
    array([], dtype=int64)
    """
    la = np.asarray(lat, dtype=np.float64).ravel()
    n = la.size
    out = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return out
    w = np.asarray(weight, dtype=np.float64).ravel()
    k = np.asarray(kind).ravel()
    xyz = unit_vectors(la, np.asarray(lon, dtype=np.float64).ravel())
    dist, j = cKDTree(xyz).query(xyz, k=2, distance_upper_bound=float(chord_from_m(radius_m)))
    i = np.arange(n)
    other = np.where(j[:, 0] == i, 1, 0)  # two points at one position: either may come first
    near, found = j[i, other], np.isfinite(dist[i, other])
    near = np.where(found, near, i)
    heavier = (w[near] > w) | ((w[near] == w) & (near < i))
    target = np.where(found & (w < max_weight) & heavier & (k[near] == k), near, -1)
    has = target >= 0
    target[has] = np.where(target[target[has]] >= 0, -1, target[has])
    return target


def nearest_quantile(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    ref_lat: npt.ArrayLike,
    ref_lon: npt.ArrayLike,
    ref_value: npt.ArrayLike,
    k: int,
    q: float,
) -> npt.NDArray[np.float64]:
    """The ``q`` quantile of ``ref_value`` over each point's ``k`` nearest reference points.

    Parameters
    ----------
    lat, lon : array_like
        Query positions, degrees.
    ref_lat, ref_lon, ref_value : array_like
        Reference positions (degrees) and their values. A query point that is also a reference
        point counts among its own neighbours.
    k : int
        Neighbours per query point (>= 1). With fewer than ``k`` reference points every
        result is NaN: too few to say what is normal.
    q : float
        Quantile in [0, 1] (linear interpolation, as ``numpy.quantile``).

    Returns
    -------
    float array, one per query point.

    Examples
    --------
    >>> nearest_quantile([0.0], [0.0], [0.0, 0.0, 0.0, 1.0], [0.001, 0.002, 0.003, 1.0],
    ...                  [0.2, 0.4, 0.6, 9.0], 3, 0.5).tolist()
    [0.4]
    >>> nearest_quantile([0.0], [0.0], [0.0], [0.001], [0.5], 2, 0.5).tolist()
    [nan]
    >>> nearest_quantile([], [], [0.0], [0.0], [1.0], 1, 0.5).tolist()
    []
    """
    near = _nearest_values(lat, lon, ref_lat, ref_lon, ref_value, k)
    return near if near.ndim == 1 else np.quantile(near, q, axis=1)


def nearest_mean(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    ref_lat: npt.ArrayLike,
    ref_lon: npt.ArrayLike,
    ref_value: npt.ArrayLike,
    k: int,
) -> npt.NDArray[np.float64]:
    """The mean of ``ref_value`` over each point's ``k`` nearest reference points (NaN with
    fewer than ``k``; a query point that is a reference point counts among its neighbours).

    Examples
    --------
    The share of busy sites among the 3 nearest:

    >>> nearest_mean([0.0], [0.0], [0.0, 0.0, 0.0, 1.0], [0.001, 0.002, 0.003, 1.0],
    ...              [1.0, 0.0, 1.0, 0.0], 3).round(3).tolist()
    [0.667]
    >>> nearest_mean([0.0], [0.0], [0.0], [0.001], [1.0], 2).tolist()
    [nan]
    >>> nearest_mean([], [], [0.0], [0.0], [1.0], 1).tolist()
    []
    """
    near = _nearest_values(lat, lon, ref_lat, ref_lon, ref_value, k)
    return near if near.ndim == 1 else near.mean(axis=1)


def _nearest_values(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    ref_lat: npt.ArrayLike,
    ref_lon: npt.ArrayLike,
    ref_value: npt.ArrayLike,
    k: int,
) -> npt.NDArray[np.float64]:
    """``(n, k)`` values of each query point's ``k`` nearest references; an all-NaN ``(n,)``
    array when there are no query points or fewer than ``k`` references."""
    qpts = unit_vectors(lat, lon)
    values = np.asarray(ref_value, dtype=np.float64)
    if len(qpts) == 0 or len(values) < k:
        return np.full(len(qpts), np.nan)
    _, idx = cKDTree(unit_vectors(ref_lat, ref_lon)).query(qpts, k=k)
    return values[np.asarray(idx).reshape(len(qpts), k)]
