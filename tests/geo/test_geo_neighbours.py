"""geo.neighbours: a heavier neighbour within reach; the nearest heavier point a light one joins; a
quantile over the k nearest references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import haversine_m
from geo.neighbours import heavier_neighbour, nearest_heavier, nearest_quantile

M_PER_DEG = 111_195.08  # metres per degree of latitude on the mean sphere


def _brute(lat, lon, w, radius_m, factor):
    """The reference: every other point within radius_m with weight >= factor * own."""
    lat, lon, w = map(np.asarray, (lat, lon, w))
    d = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    near = (d <= radius_m) & ~np.eye(len(w), dtype=bool)
    return (near & (w[None, :] >= factor * w[:, None])).any(axis=1)


def test_home_beside_a_busy_charger_and_a_lone_site():
    """A home (10 sessions) 50 m north of a charger (60), another charger (15) 200 m south.

    Expected: only the home has a heavier neighbour within 90 m at factor 2; the charger 200 m
    away is out of reach, and the busy charger has nothing heavier near it.
    """
    lat = np.array([50.0 / M_PER_DEG, 0.0, -200.0 / M_PER_DEG])
    out = heavier_neighbour(lat, np.zeros(3), [10, 60, 15], 90.0, 2.0)
    assert out.tolist() == [True, False, False]


def test_factor_is_inclusive_and_equal_weights_count_at_factor_one():
    """Weights 10 and 20 at 30 m: factor 2 exactly is enough; at factor 1 both see the other."""
    lat = [0.0, 30.0 / M_PER_DEG]
    assert heavier_neighbour(lat, [0.0, 0.0], [10, 20], 90.0, 2.0).tolist() == [True, False]
    assert heavier_neighbour(lat, [0.0, 0.0], [10, 10], 90.0, 1.0).tolist() == [True, True]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-300, 300), st.floats(-300, 300), st.integers(1, 100)),
        min_size=0,
        max_size=25,
    )
)
def test_matches_brute_force(points):
    """Random points within ~400 m: the same answer as checking every pair."""
    if not points:
        assert heavier_neighbour([], [], [], 90.0, 2.0).size == 0
        return
    north, east, w = map(np.asarray, zip(*points, strict=True))
    lat0 = 42.36
    lat = lat0 + north / M_PER_DEG
    lon = -71.06 + east / (M_PER_DEG * np.cos(np.radians(lat0)))
    got = heavier_neighbour(lat, lon, w, 90.0, 2.0)
    want = _brute(lat, lon, w, 90.0 - 1e-6, 2.0)
    edge = _brute(lat, lon, w, 90.0 + 1e-6, 2.0)
    assert np.all(got | ~want) and np.all(~got | edge)  # exact up to the 90 m boundary


def test_nearest_quantile_equals_brute_force_over_the_k_nearest():
    """300 query points and 500 references scattered over ~20 km: each result equals the
    quantile of the values of its k nearest references by great-circle distance."""
    rng = np.random.default_rng(5)
    qlat, qlon = 42.3 + rng.random(300) * 0.2, -71.2 + rng.random(300) * 0.25
    rlat, rlon = 42.3 + rng.random(500) * 0.2, -71.2 + rng.random(500) * 0.25
    value = rng.random(500)
    got = nearest_quantile(qlat, qlon, rlat, rlon, value, 40, 0.25)
    d = haversine_m(qlat[:, None], qlon[:, None], rlat[None, :], rlon[None, :])
    nearest = np.argsort(d, axis=1)[:, :40]
    np.testing.assert_allclose(got, np.quantile(value[nearest], 0.25, axis=1))


def test_nearest_quantile_is_nan_with_fewer_references_than_k():
    """Two references, k = 3: too few to say what is normal around any point."""
    got = nearest_quantile([42.0, 43.0], [-71.0, -71.0], [42.0, 42.1], [-71.0, -71.0],
                           [0.5, 0.9], 3, 0.25)  # fmt: skip
    assert np.isnan(got).all() and got.shape == (2,)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-100, 100), st.floats(-100, 100), st.integers(1, 14), st.sampled_from("ad")
        ),
        min_size=0,
        max_size=20,
    )
)
def test_nearest_heavier_matches_brute_force(points):
    """Random sites within ~140 m, weights 1-14, two kinds: each site lighter than 10 points
    to its nearest other site when that one is within 28 m, of its kind and heavier (ties:
    the lower index), unless that one points somewhere itself; -1 otherwise."""
    if not points:
        assert nearest_heavier([], [], [], [], 10, 28).size == 0
        return
    north, east, w, kind = map(np.asarray, zip(*points, strict=True))
    lat = 42.36 + north / M_PER_DEG
    lon = -71.06 + east / (M_PER_DEG * np.cos(np.radians(42.36)))
    got = nearest_heavier(lat, lon, w, kind, 10, 28.0)
    n = len(w)
    d = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) + np.diag(
        np.full(n, np.inf)
    )
    j = d.argmin(axis=1) if n > 1 else np.zeros(n, dtype=int)
    i = np.arange(n)
    heavier = (w[j] > w) | ((w[j] == w) & (j < i))
    want = np.where((d[i, j] <= 28.0) & (w < 10) & heavier & (kind[j] == kind), j, -1)
    want = np.where((want >= 0) & (want[np.maximum(want, 0)] >= 0), -1, want)
    sharp = np.abs(np.sort(d, axis=1)[:, :2] - 28.0).min(axis=1) > 1e-3  # off the boundary
    if n > 2:  # a clear nearest (no tie between the two closest)
        s = np.sort(d, axis=1)
        sharp &= (s[:, 1] - s[:, 0]) > 1e-6
    assert np.array_equal(got[sharp & (want >= 0)], want[sharp & (want >= 0)])
    if sharp.all():
        assert np.array_equal(got, want)
