"""Distances on the sphere, and the 3-D unit vectors the clustering works in.

Positions go in as ``(lat, lon)`` in degrees — latitude first, always. Clustering works on unit
vectors of the sphere (x, y, z) with a Euclidean metric: a great-circle distance ``d`` corresponds
to a chord ``2 R sin(d / 2R)``, the mapping is monotonic, so "within ``d`` metres" is exactly
"within that chord" — with no lat/lon order to get wrong and no seam at the antimeridian.

>>> round(float(haversine_m(35.0, 139.0, 35.0 + 30 / 111_195.08, 139.0)), 3)
30.0
>>> round(float(m_from_chord(chord_from_m(25.0))), 9)
25.0
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "EARTH_RADIUS_M",
    "chord_from_m",
    "haversine_m",
    "m_from_chord",
    "unit_vectors",
    "unit_vectors_to_latlng",
]

#: mean Earth radius (IUGG), metres; used for every conversion in this package
EARTH_RADIUS_M: float = 6_371_008.8


def haversine_m(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Great-circle distance in metres between ``(lat1, lon1)`` and ``(lat2, lon2)`` (degrees).

    Inputs broadcast; the result has their shape.

    Examples
    --------
    Across the antimeridian, 0.001° of longitude apart at the equator:

    >>> round(float(haversine_m(0.0, 179.9995, 0.0, -179.9995)), 2)
    111.2
    """
    p1, l1, p2, l2 = (np.radians(np.asarray(a, dtype=np.float64)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_vectors(lat: npt.ArrayLike, lon: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Unit vectors ``(n, 3)`` on the sphere for ``lat``/``lon`` in degrees (1-D inputs)."""
    p = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64))
    cp = np.cos(p)
    return np.stack([cp * np.cos(lam), cp * np.sin(lam), np.sin(p)], axis=-1)


def unit_vectors_to_latlng(
    xyz: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(lat, lon)`` in degrees of vectors ``(n, 3)``; vectors need not be normalised.

    A sum of unit vectors gives the direction of their mean: the centroid on the sphere, right
    across the antimeridian and near the poles (a plain mean of longitudes is not).

    >>> lat, lon = unit_vectors_to_latlng(unit_vectors([10.0, 10.0], [179.9, -179.9]).sum(0))
    >>> round(float(lat), 6), round(abs(float(lon)), 6)
    (10.000015, 180.0)
    """
    v = np.asarray(xyz, dtype=np.float64)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon


def chord_from_m(metres: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Chord length between unit vectors ``metres`` apart along the great circle."""
    return 2.0 * np.sin(np.asarray(metres, dtype=np.float64) / (2.0 * EARTH_RADIUS_M))


def m_from_chord(chord: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Great-circle metres for a chord between unit vectors (inverse of :func:`chord_from_m`)."""
    c = np.clip(np.asarray(chord, dtype=np.float64), 0.0, 2.0)
    return 2.0 * EARTH_RADIUS_M * np.arcsin(c / 2.0)
