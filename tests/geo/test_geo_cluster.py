"""geo.cluster: the weighted DBSCAN kernel equals scikit-learn's DBSCAN, and the partitioned,
stitched run equals the global one, label for label (property tests)."""

from __future__ import annotations

import h3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from geo.cluster import (
    batch_partitions,
    cluster_centroids,
    cluster_partitions,
    cluster_points,
    dbscan_weighted,
    likeliest_sites,
    order_labels,
    split_partitions,
    stitch,
)
from geo.distance import EARTH_RADIUS_M, chord_from_m, unit_vectors
from geo.h3cells import latlng_to_cells

M_PER_DEG = np.pi * EARTH_RADIUS_M / 180


def _offsets(lat0, lon0, north_m, east_m):
    lat = lat0 + np.asarray(north_m) / M_PER_DEG
    lon = lon0 + np.asarray(east_m) / (M_PER_DEG * np.cos(np.radians(lat0)))
    return lat, (lon + 180.0) % 360.0 - 180.0


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to the names of the labels (noise must be noise in both)."""
    if not np.array_equal(a < 0, b < 0):
        return False
    m = a >= 0
    pairs = np.unique(np.stack([a[m], b[m]]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


# --- exact distances: the lat/lon trap and the antimeridian ----------------------------------
@pytest.mark.parametrize("lat0", [0.0, 35.0, 60.0, -33.9])
def test_eps_is_metres_in_every_direction(lat0) -> None:
    """eps 30 m, min_samples 2: points 29 m apart join and 31 m apart don't, north-south and
    east-west alike (trackintel's (lon, lat) bug merged 35 m N-S and split 27 m E-W at 35°N)."""
    for north, east in [(29, 0), (0, 29), (20.5, 20.5)]:
        lat, lon = _offsets(lat0, 10.0, [0, north], [0, east])
        labels, _ = dbscan_weighted(unit_vectors(lat, lon), [1, 1], 30.0, 2)
        assert labels.tolist() == [0, 0], (north, east)
    for north, east in [(31, 0), (0, 31), (22, 22)]:
        lat, lon = _offsets(lat0, 10.0, [0, north], [0, east])
        labels, _ = dbscan_weighted(unit_vectors(lat, lon), [1, 1], 30.0, 2)
        assert labels.tolist() == [-1, -1], (north, east)


def test_across_the_antimeridian() -> None:
    """Five sessions straddling 180° within 10 m form one cluster centred on the seam."""
    lat, lon = _offsets(-16.5, 179.99999, [0, 3, -3, 0, 0], [0, 0, 0, 4, -8])
    assert (lon < 0).any() and (lon > 0).any()
    xyz = unit_vectors(lat, lon)
    labels, core = dbscan_weighted(xyz, np.ones(5), 25.0, 5)
    assert labels.tolist() == [0] * 5 and core.all()
    clat, clon = cluster_centroids(xyz, labels)
    assert clat[0] == pytest.approx(-16.5, abs=1e-5) and abs(clon[0]) > 179.9999


def test_weights_count_as_samples() -> None:
    """A micro-point of weight 4 plus a neighbour of weight 1 reach min_samples 5 (as sklearn's
    sample_weight); with weight 3 they don't."""
    xyz = unit_vectors(*_offsets(50.0, 8.0, [0, 10], [0, 0]))
    assert dbscan_weighted(xyz, [4, 1], 25.0, 5)[0].tolist() == [0, 0]
    assert dbscan_weighted(xyz, [3, 1], 25.0, 5)[0].tolist() == [-1, -1]


def test_border_point_goes_to_nearest_core() -> None:
    """Along a meridian, metres (weight): A = -10 (2), -8 (1), 0 (2); a border point at 18 (1);
    B = 40 (2), 45 (1), 50 (2). eps 25 m, min_samples 6: cores are 0 and 40 only; the point at
    18 m sees both (18 m and 22 m) but weighs 5 < 6 itself, so it is a border point and joins
    A, the nearer core, whatever the input order (sklearn picks by expansion order)."""
    north = np.array([-10, -8, 0, 18, 40, 45, 50], float)
    w = np.array([2, 1, 2, 1, 2, 1, 2], float)
    xyz = unit_vectors(*_offsets(0.0, 0.0, north, np.zeros(7)))
    rng = np.random.default_rng(0)
    for _ in range(5):
        perm = rng.permutation(7)
        labels, core = dbscan_weighted(xyz[perm], w[perm], 25.0, 6)
        back, back_core = np.empty(7, int), np.empty(7, bool)
        back[perm], back_core[perm] = labels, core
        assert back_core.tolist() == [False, False, True, False, True, False, False]
        assert back[3] == back[2] != back[4]


# --- property tests -----------------------------------------------------------------------
def _border_vertex(seed: int) -> tuple[float, float]:
    """A vertex of a res-7 cell: three partitions meet there."""
    rng = np.random.default_rng(seed)
    cell = h3.latlng_to_cell(float(rng.uniform(-60, 60)), float(rng.uniform(-180, 180)), 7)
    return h3.cell_to_boundary(cell)[seed % 6]


@st.composite
def scenes(draw):
    """Blobs and scattered points around a point where three res-7 partitions meet (or on the
    antimeridian), with integer weights 1..6: the awkward cases for halos and stitching."""
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    lat0, lon0 = (-16.5, 180.0) if seed % 5 == 0 else _border_vertex(seed)
    n_blobs = draw(st.integers(1, 8))
    n = draw(st.integers(5, 250))
    centres = rng.uniform(-400, 400, (n_blobs, 2))
    which = rng.integers(0, n_blobs + 1, n)  # n_blobs: scattered
    spread = draw(st.sampled_from([5.0, 12.0, 30.0]))
    pos = np.where(
        (which < n_blobs)[:, None],
        centres[np.minimum(which, n_blobs - 1)] + rng.normal(0, spread, (n, 2)),
        rng.uniform(-500, 500, (n, 2)),
    )
    lat, lon = _offsets(lat0, lon0, pos[:, 0], pos[:, 1])
    weights = rng.integers(1, 7, n).astype(float)
    min_samples = draw(st.integers(2, 12))
    return lat, lon, weights, min_samples


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene=scenes())
def test_kernel_equals_sklearn(scene) -> None:
    """Same core points and noise as sklearn DBSCAN(sample_weight=...); same clusters of core
    points up to label names; every border point is in a cluster of one of its core neighbours
    (scikit-learn's own choice among them is order-dependent)."""
    lat, lon, w, m = scene
    xyz = unit_vectors(lat, lon)
    eps = 25.0
    ours, core = dbscan_weighted(xyz, w, eps, m)
    ref = DBSCAN(eps=float(chord_from_m(eps)), min_samples=m, algorithm="kd_tree")
    ref.fit(xyz, sample_weight=w)
    ref_core = np.zeros(len(w), bool)
    ref_core[ref.core_sample_indices_] = True
    np.testing.assert_array_equal(core, ref_core)
    np.testing.assert_array_equal(ours < 0, ref.labels_ < 0)
    assert _same_partition(ours[core], ref.labels_[core])
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=2) <= chord_from_m(eps)
    for b in np.flatnonzero((ours >= 0) & ~core):
        assert ours[b] in set(ours[d[b] & core])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scene=scenes(), partition_res=st.sampled_from([6, 7, 8]))
def test_partitioned_equals_global(scene, partition_res) -> None:
    """Partition by coarse cell with halo, cluster each alone, stitch: exactly the global labels
    (no site split or duplicated at a border), border points included."""
    lat, lon, w, m = scene
    xyz = unit_vectors(lat, lon)
    cells = latlng_to_cells(lat, lon, 13)
    want, _ = dbscan_weighted(xyz, w, 25.0, m)
    got = cluster_points(xyz, w, cells, 25.0, m, partition_res=partition_res)
    np.testing.assert_array_equal(got, want)


def test_partitions_really_split_and_batches_stitch_the_same() -> None:
    """A 300 m line of sessions across a res-7 vertex: several partitions, one cluster."""
    lat0, lon0 = _border_vertex(11)
    t = np.linspace(-150, 150, 61)
    lat, lon = _offsets(lat0, lon0, t, t)
    xyz, w, cells = unit_vectors(lat, lon), np.full(61, 3.0), latlng_to_cells(lat, lon, 13)
    parts = split_partitions(xyz, w, cells, 25.0, 7)
    assert len(parts) >= 2
    results = [r for b in batch_partitions(parts, 30) for r in cluster_partitions(b, 25.0, 3)]
    assert stitch(results, 61).tolist() == [0] * 61


def test_order_labels_by_centroid_cell() -> None:
    labels = np.array([1, 1, 0, -1])
    new, order = order_labels(labels, [10.0, 50.0], [10.0, 8.0])
    key = latlng_to_cells([10.0, 50.0], [10.0, 8.0], 15)
    assert order.tolist() == np.argsort(key).tolist()
    assert new[3] == -1 and new[0] == new[1] != new[2]


def test_likeliest_sites_weigh_sites_by_weight_and_distance() -> None:
    """Sites A (10 sessions) at 0 m and B (10) at 40 m north, C (1,000) 40 m east of A. Points
    with a 20 m sigma, reach 2 sigma (40 m): P1 at 18 m north (A, the nearer of two equals);
    P2 at 30 m north (B); P3 at 18 m east (C, 100 times busier, though A is nearer); P4 80 m
    south (nothing within 40 m). With a 5 m sigma (reach 10 m) none is attached.

    Expected: [0, 1, 2, -1]; [-1, -1, -1, -1] with 5 m; all -1 without sites.
    """
    dy = 1 / 111_195
    dx = dy / np.cos(np.radians(42.0))
    sites = unit_vectors(
        42.0 + dy * np.array([0.0, 40.0, 0.0]), -71.0 + dx * np.array([0, 0, 40.0])
    )
    pts = unit_vectors(
        42.0 + dy * np.array([18.0, 30.0, 0.0, -80.0]), -71.0 + dx * np.array([0, 0, 18.0, 0])
    )
    got = likeliest_sites(pts, np.full(4, 20.0), sites, [10, 10, 1000], 2.0)
    assert got.tolist() == [0, 1, 2, -1]
    assert likeliest_sites(pts, np.full(4, 5.0), sites, [10, 10, 1000], 2.0).tolist() == [-1] * 4
    assert likeliest_sites(pts, np.full(4, 20.0), sites[:0], [], 2.0).tolist() == [-1] * 4
