"""Small local-plane helpers for the simulator (metres <-> degrees, nearest neighbours)."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_M = 6_371_008.8


def offset(lat: np.ndarray, lon: np.ndarray, east_m: np.ndarray, north_m: np.ndarray):
    """Move points by (east, north) metres; fine for offsets of a few km."""
    lat = np.asarray(lat, dtype=np.float64)
    dlat = np.degrees(np.asarray(north_m) / EARTH_RADIUS_M)
    dlon = np.degrees(np.asarray(east_m) / (EARTH_RADIUS_M * np.cos(np.radians(lat))))
    return lat + dlat, np.asarray(lon, dtype=np.float64) + dlon


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres, broadcasting."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def to_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Unit vectors scaled to the Earth's radius (metres); chord ~ distance at short range."""
    la, lo = np.radians(lat), np.radians(lon)
    return EARTH_RADIUS_M * np.column_stack(
        [np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)]
    )
