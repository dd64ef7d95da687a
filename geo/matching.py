"""One-to-one nearest-first matching of two point sets within a distance.

Used to carry site identities from one day to the next and to match sites to a registry of known
charge points. The rule is the greedy one an analyst can check by hand: take all pairs closer than
``max_m``, accept the closest pair, drop both points, repeat. Ties are broken by the pair's
indices (left first; distances are compared to the millimetre), so the result is deterministic.

It is computed without a loop over pairs: in each round every point keeps its best remaining
candidate, and the pairs that are each other's best are accepted together. A mutually-best pair
is exactly one the greedy procedure would accept (no smaller pair touches either point), and the
globally closest pair is always mutually best, so each round makes progress and the result equals
the greedy one.

>>> left, right, d = match_nearest([0.0, 0.0], [0.0, 0.001], [0.0], [0.0008], 200.0)
>>> left.tolist(), right.tolist(), [round(float(x), 1) for x in d]
([1], [0], [22.2])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from geo.distance import chord_from_m, m_from_chord, unit_vectors

__all__ = ["count_within", "match_nearest"]


def match_nearest(
    lat1: npt.ArrayLike,
    lon1: npt.ArrayLike,
    lat2: npt.ArrayLike,
    lon2: npt.ArrayLike,
    max_m: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Match points of set 1 to points of set 2, one to one, nearest first, within ``max_m``.

    Parameters
    ----------
    lat1, lon1 : array_like
        Positions of the first set, degrees (latitude first).
    lat2, lon2 : array_like
        Positions of the second set, degrees.
    max_m : float
        Pairs farther apart than this (great-circle metres) are never matched.

    Returns
    -------
    left, right : int64 arrays
        Indices into set 1 and set 2 of the matched pairs, sorted by ``left``.
    distance_m : float64 array
        Great-circle distance of each pair in metres.

    Examples
    --------
    Two points compete for one: the closer wins, the other stays unmatched.

    >>> match_nearest([10.0, 10.0002], [20.0, 20.0], [10.0001], [20.0], 50.0)[:2]
    (array([0]), array([0]))

    Nothing within reach, or an empty side:

    >>> [a.size for a in match_nearest([0.0], [0.0], [1.0], [1.0], 50.0)]
    [0, 0, 0]
    >>> [a.size for a in match_nearest([], [], [1.0], [1.0], 50.0)]
    [0, 0, 0]
    """
    a = np.asarray(lat1, dtype=np.float64).ravel()
    b = np.asarray(lat2, dtype=np.float64).ravel()
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
    if a.size == 0 or b.size == 0:
        return empty
    u1 = unit_vectors(a, np.asarray(lon1, dtype=np.float64).ravel())
    u2 = unit_vectors(b, np.asarray(lon2, dtype=np.float64).ravel())
    pairs = cKDTree(u1).sparse_distance_matrix(
        cKDTree(u2), float(chord_from_m(max_m)), output_type="ndarray"
    )
    if pairs.size == 0:
        return empty
    i = pairs["i"].astype(np.int64)
    j = pairs["j"].astype(np.int64)
    chord = pairs["v"].astype(np.float64)
    # a total order on pairs: distance to the millimetre (so that floating-point noise cannot
    # decide between equally distant pairs), then left index, then right index
    mm = np.round(m_from_chord(chord) * 1000.0)
    order = np.lexsort((j, i, mm))
    i, j, chord = i[order], j[order], chord[order]
    done_i = np.zeros(a.size, dtype=bool)
    done_j = np.zeros(b.size, dtype=bool)
    keep_i: list[np.ndarray] = []
    keep_j: list[np.ndarray] = []
    keep_c: list[np.ndarray] = []
    while i.size:
        # best remaining pair of every left and every right point (pairs are in order)
        pos = np.arange(i.size)
        best_i = np.full(a.size, -1, dtype=np.int64)
        best_j = np.full(b.size, -1, dtype=np.int64)
        ui, first_i = np.unique(i, return_index=True)  # first occurrence = best pair
        uj, first_j = np.unique(j, return_index=True)
        best_i[ui] = first_i
        best_j[uj] = first_j
        mutual = (best_i[i] == pos) & (best_j[j] == pos)
        keep_i.append(i[mutual])
        keep_j.append(j[mutual])
        keep_c.append(chord[mutual])
        done_i[i[mutual]] = True
        done_j[j[mutual]] = True
        alive = ~(done_i[i] | done_j[j])
        i, j, chord = i[alive], j[alive], chord[alive]
    left = np.concatenate(keep_i)
    right = np.concatenate(keep_j)
    dist = m_from_chord(np.concatenate(keep_c))
    order = np.argsort(left, kind="stable")
    return left[order], right[order], dist[order]


def count_within(
    lat1: npt.ArrayLike,
    lon1: npt.ArrayLike,
    lat2: npt.ArrayLike,
    lon2: npt.ArrayLike,
    max_m: float,
) -> npt.NDArray[np.int64]:
    """For each point of set 1, how many points of set 2 lie within ``max_m`` metres.

    Examples
    --------
    >>> count_within([0.0, 1.0], [0.0, 1.0], [0.0, 0.0001, 0.01], [0.0, 0.0, 0.0], 20.0).tolist()
    [2, 0]
    >>> count_within([], [], [0.0], [0.0], 20.0).tolist()
    []
    >>> count_within([0.0], [0.0], [], [], 20.0).tolist()
    [0]
    """
    a = np.asarray(lat1, dtype=np.float64).ravel()
    b = np.asarray(lat2, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        return np.zeros(a.size, dtype=np.int64)
    u1 = unit_vectors(a, np.asarray(lon1, dtype=np.float64).ravel())
    u2 = unit_vectors(b, np.asarray(lon2, dtype=np.float64).ravel())
    n = cKDTree(u2).query_ball_point(u1, float(chord_from_m(max_m)), return_length=True)
    return np.asarray(n, dtype=np.int64)
