"""geo.distance: exact known distances at several latitudes and across the antimeridian."""

from __future__ import annotations

import numpy as np
import pytest

from geo.distance import (
    EARTH_RADIUS_M,
    chord_from_m,
    haversine_m,
    m_from_chord,
    unit_vectors,
    unit_vectors_to_latlng,
)

M_PER_DEG = np.pi * EARTH_RADIUS_M / 180  # 111_195.08 m: one degree of a great circle


@pytest.mark.parametrize("lat", [0.0, 35.0, 60.0, -45.0, 89.0])
def test_meridian_degree_is_the_same_everywhere(lat) -> None:
    """Along a meridian, 0.001° of latitude is 111.195 m at any latitude."""
    assert haversine_m(lat, 10.0, lat + 0.001, 10.0) == pytest.approx(M_PER_DEG / 1000, rel=1e-9)


@pytest.mark.parametrize("lat", [0.0, 35.0, 60.0, -45.0])
def test_parallel_shrinks_with_cos_lat(lat) -> None:
    """Along a parallel, 0.001° of longitude is 111.195 m × cos(lat) (to 1e-6 at this size)."""
    want = M_PER_DEG / 1000 * np.cos(np.radians(lat))
    assert haversine_m(lat, 10.0, lat, 10.001) == pytest.approx(want, rel=1e-6)


def test_antimeridian() -> None:
    """179.9999°E to 179.9999°W at the equator is 0.0002° = 22.24 m, not 40,000 km."""
    assert haversine_m(0.0, 179.9999, 0.0, -179.9999) == pytest.approx(M_PER_DEG * 2e-4, 1e-9)
    a, b = unit_vectors([0.0, 0.0], [179.9999, -179.9999])
    assert m_from_chord(np.linalg.norm(a - b)) == pytest.approx(M_PER_DEG * 2e-4, rel=1e-6)


def test_lat_lon_order_trap() -> None:
    """research.md: at 35°N, 35 m north-south and 27 m east-west. Swapping (lat, lon) would make
    the first look short and the second long; here they are what they are."""
    d_ns = 35 / M_PER_DEG
    d_ew = 27 / (M_PER_DEG * np.cos(np.radians(35.0)))
    assert haversine_m(35.0, 139.0, 35.0 + d_ns, 139.0) == pytest.approx(35.0, rel=1e-6)
    assert haversine_m(35.0, 139.0, 35.0, 139.0 + d_ew) == pytest.approx(27.0, rel=1e-4)


@pytest.mark.parametrize("metres", [0.0, 1.0, 25.0, 1_000.0, 5_000_000.0])
def test_chord_round_trip(metres) -> None:
    assert m_from_chord(chord_from_m(metres)) == pytest.approx(metres, abs=1e-6)


def test_chord_equals_haversine_for_unit_vectors() -> None:
    rng = np.random.default_rng(1)
    lat1, lat2 = rng.uniform(-89, 89, (2, 500))
    lon1, lon2 = rng.uniform(-180, 180, (2, 500))
    chord = np.linalg.norm(unit_vectors(lat1, lon1) - unit_vectors(lat2, lon2), axis=1)
    np.testing.assert_allclose(m_from_chord(chord), haversine_m(lat1, lon1, lat2, lon2), rtol=1e-9)


def test_centroid_across_antimeridian_and_pole() -> None:
    """The mean vector's direction is the centroid: 180° across the seam (a mean of longitudes
    would say 0°), and the pole for points around it."""
    lat, lon = unit_vectors_to_latlng(unit_vectors([0.0, 0.0], [179.0, -179.0]).sum(axis=0))
    assert lat == pytest.approx(0.0, abs=1e-9) and abs(lon) == pytest.approx(180.0)
    lat, _ = unit_vectors_to_latlng(unit_vectors([89.0] * 4, [0.0, 90.0, 180.0, -90.0]).sum(0))
    assert lat == pytest.approx(90.0)
