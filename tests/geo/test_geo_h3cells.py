"""geo.h3cells: the vectorized functions agree with h3-py's scalar ones, cell for cell."""

from __future__ import annotations

import h3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cluster import halo_resolution
from geo.h3cells import (
    cell_to_parent,
    cells_to_latlng,
    cells_to_str,
    count_in_disks,
    get_resolution,
    grid_disk_parents,
    latlng_to_cells,
)

H3 = h3.api.basic_int


@pytest.fixture(scope="module")
def points() -> tuple[np.ndarray, np.ndarray]:
    """2,000 random positions over the whole sphere, poles and antimeridian included."""
    rng = np.random.default_rng(7)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 2000)))
    lon = rng.uniform(-180, 180, 2000)
    lat[:4] = [90.0, -90.0, 0.0, 45.0]
    lon[:4] = [0.0, 0.0, 180.0, -180.0]
    return lat, lon


@pytest.mark.parametrize("res", [0, 5, 9, 13, 15])
def test_latlng_to_cells_matches_scalar(points, res) -> None:
    lat, lon = points
    got = latlng_to_cells(lat, lon, res)
    assert got.dtype == np.uint64
    assert got.tolist() == [H3.latlng_to_cell(a, b, res) for a, b in zip(lat, lon, strict=True)]
    assert (get_resolution(got) == res).all()


def test_latlng_to_cells_shapes_and_nan() -> None:
    assert latlng_to_cells(10.0, 20.0, 9).shape == ()
    got = latlng_to_cells([[10.0, np.nan]], [[20.0, 0.0]], 9)
    assert got.shape == (1, 2) and got[0, 1] == 0


@pytest.mark.parametrize("res", [0, 1, 5, 8, 12, 13])
def test_cell_to_parent_matches_scalar(points, res) -> None:
    cells = latlng_to_cells(*points, 13)
    want = [H3.cell_to_parent(c, res) for c in cells.tolist()]
    assert cell_to_parent(cells, res).tolist() == want


def test_cell_to_parent_rejects_coarser_and_keeps_zero() -> None:
    cells = latlng_to_cells([1.0], [2.0], 5)
    with pytest.raises(ValueError):
        cell_to_parent(cells, 7)
    assert cell_to_parent(np.array([0], np.uint64), 3).tolist() == [0]


def test_cells_to_latlng_round_trip(points) -> None:
    cells = latlng_to_cells(*points, 11)
    lat, lon = cells_to_latlng(cells)
    assert (latlng_to_cells(lat, lon, 11) == cells).all()
    assert cells_to_str(cells[:1])[0] == H3.int_to_str(int(cells[0]))


def test_grid_disk_parents_matches_scalar(points) -> None:
    cells = latlng_to_cells(points[0][:300], points[1][:300], 4)
    index, parents = grid_disk_parents(cells, 1, 2)
    for i in range(cells.size):
        want = sorted({H3.cell_to_parent(c, 2) for c in H3.grid_disk(int(cells[i]), 1)})
        assert parents[index == i].tolist() == want


@settings(max_examples=200, deadline=None)
@given(
    lat=st.floats(-85, 85),
    lon=st.floats(-180, 180),
    bearing=st.floats(0, 2 * np.pi),
    dist=st.floats(0, 50),
)
def test_halo_resolution_covers_twice_eps(lat, lon, bearing, dist) -> None:
    """Two points within 2 * eps (50 m for eps 25 m) have res-13 cells whose ancestors at the
    halo resolution are equal or neighbours: the k=1 disk there finds every halo partition."""
    res = halo_resolution(25.0)
    lat2 = lat + dist * np.cos(bearing) / 111_195.08
    lon2 = lon + dist * np.sin(bearing) / (111_195.08 * np.cos(np.radians(lat)))
    a = cell_to_parent(latlng_to_cells([lat, lat2], [lon, (lon2 + 180) % 360 - 180], 13), res)
    assert H3.grid_distance(int(a[0]), int(a[1])) <= 1


@pytest.mark.parametrize("k", [0, 1, 2])
def test_count_in_disks_matches_scalar_grid_disk(k) -> None:
    """Points scattered over ~3 km around Boston with weights; each query cell's total is the
    sum over the points whose cell is in h3-py's grid_disk of it (queries include a cell with
    no point near it)."""
    rng = np.random.default_rng(3)
    lat, lon = 42.36 + rng.normal(0, 0.01, 3000), -71.06 + rng.normal(0, 0.013, 3000)
    pts = latlng_to_cells(lat, lon, 8)
    w = rng.uniform(0, 2, pts.size)
    query = np.r_[pts[:50], latlng_to_cells([43.0], [-70.0], 8)]
    got = count_in_disks(pts, query, k, weights=w)
    want = [w[np.isin(pts, H3.grid_disk(int(q), k))].sum() for q in query]
    np.testing.assert_allclose(got, want)
    assert got[-1] == 0.0
    assert count_in_disks(pts, query, k).tolist() == [
        float(np.isin(pts, H3.grid_disk(int(q), k)).sum()) for q in query
    ]
