"""Tile math and the points-only MVT encoder, checked against other authors' code.

Reference answers: tile numbers from the OSM slippy-map formula (Berlin 13.4/52.5 at z14 is
tile 8801/5374), PMTiles ids from :mod:`pmtiles.tile`, MVT bytes decoded by
:mod:`mapbox_vector_tile`.
"""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pmtiles.tile import zxy_to_tileid as reference_tileid

from geo.tiles import (
    EXTENT,
    MAX_LAT,
    encode_point_layer,
    encode_point_tiles,
    global_pixels,
    tile_bounds,
    tile_pixels,
    tile_pixels_to_lonlat,
    tile_xy,
    value_field,
    zxy_to_tileid,
)


def osm_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The OSM wiki's scalar formula (the textbook answer)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)
    return x, y


@pytest.mark.parametrize(
    ("lon", "lat", "z", "expected"),
    [
        (13.4, 52.5, 14, (8801, 5374)),
        (-74.0, 40.7, 14, (4824, 6160)),
        (0.0, 0.0, 1, (1, 1)),
        (-180.0, MAX_LAT, 3, (0, 0)),  # north-west corner
        (179.9999999, -MAX_LAT, 3, (7, 7)),  # south-east corner stays inside the grid
        (180.0, 0.0, 2, (0, 2)),  # lon 180 is lon -180
        (10.0, 89.9, 5, (16, 0)),  # beyond Mercator's edge: clamped to the top row
    ],
)
def test_tile_xy_known_answers(lon, lat, z, expected):
    x, y = tile_xy(np.array([lon]), np.array([lat]), z)
    assert (int(x[0]), int(y[0])) == expected


def test_tile_xy_matches_textbook_formula_at_many_points():
    rng = np.random.default_rng(3)
    lon = rng.uniform(-179.99, 179.99, 2000)
    lat = rng.uniform(-84.9, 84.9, 2000)
    for z in (0, 3, 10, 14):
        x, y = tile_xy(lon, lat, z)
        expected = np.array([osm_tile(a, b, z) for a, b in zip(lon, lat, strict=True)])
        assert (x == expected[:, 0]).all()
        assert (y == expected[:, 1]).all()


def test_tile_and_pixel_come_from_one_integer():
    """The in-tile coordinate is always inside 0..extent-1 and agrees with the tile index."""
    lon = np.array([-180.0, -0.0000001, 0.0, 13.4, 179.9999999])
    lat = np.array([0.0, 0.0000001, -0.0000001, 52.5, -MAX_LAT])
    gx, gy = global_pixels(lon, lat, 14)
    x, y, px, py = tile_pixels(lon, lat, 14)
    assert ((px >= 0) & (px < EXTENT) & (py >= 0) & (py < EXTENT)).all()
    assert (x * EXTENT + px == gx).all() and (y * EXTENT + py == gy).all()


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-180, 179.9999999),
    lat=st.floats(-85.0, 85.0),
    z=st.integers(0, 16),
)
def test_pixel_round_trip_within_half_a_cell(lon, lat, z):
    x, y, px, py = tile_pixels(np.array([lon]), np.array([lat]), z)
    lon2, lat2 = tile_pixels_to_lonlat(z, x, y, px, py)
    cell_deg = 360.0 / (2**z * EXTENT)
    assert abs(lon2[0] - lon) <= cell_deg / 2 + 1e-9
    # in y the cell is at most cell_deg tall in latitude (Mercator shrinks it away from 0)
    assert abs(lat2[0] - lat) <= cell_deg / 2 + 1e-9
    west, south, east, north = tile_bounds(z, int(x[0]), int(y[0]))
    eps = 1e-9  # a point within float rounding of a tile edge may land on either side
    assert west - eps <= lon <= east + eps
    assert south - eps <= max(lat, -MAX_LAT) <= north + eps


def test_tile_bounds_of_the_world_and_a_quadrant():
    assert tile_bounds(0, 0, 0) == pytest.approx((-180, -MAX_LAT, 180, MAX_LAT))
    assert tile_bounds(1, 1, 0) == pytest.approx((0, 0, 180, MAX_LAT))


@pytest.mark.parametrize("z", [0, 1, 2, 5, 9, 14, 18])
def test_tileid_matches_pmtiles_reference(z):
    rng = np.random.default_rng(z)
    x = rng.integers(0, 2**z, 300)
    y = rng.integers(0, 2**z, 300)
    ours = zxy_to_tileid(z, x, y)
    assert ours.dtype == np.uint64
    assert ours.tolist() == [reference_tileid(z, int(a), int(b)) for a, b in zip(x, y, strict=True)]


def test_tileid_rejects_tiles_outside_the_zoom():
    with pytest.raises(ValueError, match="outside zoom 2"):
        zxy_to_tileid(2, np.array([4]), np.array([0]))


def test_point_layer_decodes_with_mapbox_vector_tile():
    """Two points; the second has no ``note`` (None) and a NaN ``kw``: both left out."""
    data = encode_point_layer(
        "charge_sites",
        [0, 4095],
        [5, 4000],
        [["a", 3, True, 1.5, "x", -2], ["b", 3, False, float("nan"), None, 0]],
        ["id", "n", "ok", "kw", "note", "neg"],
    )
    decoded = mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})
    layer = decoded["charge_sites"]
    assert layer["extent"] == 4096 and layer["version"] == 2
    f0, f1 = layer["features"]
    assert f0["geometry"] == {"type": "Point", "coordinates": [0, 5]}
    assert f1["geometry"] == {"type": "Point", "coordinates": [4095, 4000]}
    assert f0["properties"] == {"id": "a", "n": 3, "ok": True, "kw": 1.5, "note": "x", "neg": -2}
    assert f1["properties"] == {"id": "b", "n": 3, "ok": False, "neg": 0}
    # the y-flip trap: without y_coord_down the decoder mirrors y
    flipped = mapbox_vector_tile.decode(data)["charge_sites"]["features"][0]
    assert flipped["geometry"]["coordinates"] == [0, 4096 - 5]


def test_point_layer_is_deterministic_and_shares_values():
    rows = [["same", 1], ["same", 1], ["other", 2]]
    a = encode_point_layer("L", [1, 2, 3], [1, 2, 3], rows, ["k", "v"])
    b = encode_point_layer("L", [1, 2, 3], [1, 2, 3], [list(r) for r in rows], ["k", "v"])
    assert a == b
    assert a.count(b"same") == 1  # the value table holds each distinct value once


def test_empty_layer_decodes():
    decoded = mapbox_vector_tile.decode(encode_point_layer("L", [], [], [], ["k"]))
    assert decoded["L"]["features"] == []


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 60), min_size=1, max_size=5),
    n_values=st.sampled_from([3, 40, 300]),
    seed=st.integers(0, 2**16),
)
def test_vectorized_encoder_equals_the_reference(sizes, n_values, seed):
    """encode_point_tiles gives, tile by tile, exactly encode_point_layer's bytes.

    The value pool mixes types whose values compare equal (1, True, 1.0) to check that they stay
    distinct entries, and is large enough (300 values x 4 keys) for two-byte value indices.
    """
    rng = np.random.default_rng(seed)
    pool = [1, True, 1.0, "1", False, 0, "é"] + [f"v{i}" for i in range(n_values)]
    keys = ["a", "b", "c", "d"]
    starts = np.r_[0, np.cumsum(sizes)]
    n = int(starts[-1])
    px, py = rng.integers(0, EXTENT, n), rng.integers(0, EXTENT, n)
    codes = rng.integers(-1, len(pool), (n, len(keys)))
    tiles = encode_point_tiles("L", keys, starts, px, py, codes, [value_field(v) for v in pool])
    assert len(tiles) == len(sizes)
    for t, data in enumerate(tiles):
        s, e = starts[t], starts[t + 1]
        rows = [[None if c < 0 else pool[c] for c in row] for row in codes[s:e].tolist()]
        assert data == encode_point_layer("L", px[s:e].tolist(), py[s:e].tolist(), rows, keys)
