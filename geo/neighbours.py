"""Which points have a heavier neighbour nearby.

A small site next to a much busier one is often not a place of its own: a home next door that
catches the busy charger's GPS spill-over, or a second charger of the same car park. This module
answers the geometric half of that question on arrays, without knowing what a site is.

>>> heavier_neighbour([0.0, 0.0, 0.0], [0.0, 0.0005, 0.01], [10, 30, 100], 90.0, 2.0).tolist()
[True, False, False]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from geo.distance import chord_from_m, unit_vectors

__all__ = ["heavier_neighbour"]


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
