"""geo.modes.split_modes: chained clusters come apart at density valleys; sites stay whole."""

from __future__ import annotations

import numpy as np
import pytest

from geo.cluster import dbscan_weighted
from geo.distance import haversine_m, unit_vectors
from geo.modes import ModeParams, split_modes

LAT0, LON0 = 42.36, -71.06
M_LAT = 1 / 111_195.0
M_LON = M_LAT / np.cos(np.radians(LAT0))
# eps, bandwidth, link, persistence, min weight, max site: the defaults of ClusterParams
PARAMS = ModeParams(eps_m=15.0, bandwidth_m=7.0, link_m=10.0, persistence=0.7, min_weight=10.0,
                    max_site_m=25.0)  # fmt: skip


def blob(rng, east_m, north_m, n, sigma_m, bay_m=0.0):
    """``n`` sessions around a point: a uniform bay of radius ``bay_m`` plus Gaussian GPS error."""
    r = bay_m * np.sqrt(rng.random(n))
    t = rng.uniform(0, 2 * np.pi, n)
    e = east_m + r * np.cos(t) + rng.normal(0, sigma_m, n)
    no = north_m + r * np.sin(t) + rng.normal(0, sigma_m, n)
    return np.c_[e, no]


def cluster(points_m):
    """DBSCAN (eps 15 m, min 3) then split_modes; one point per session (weight 1).

    Returns (dbscan labels, split labels, xyz)."""
    lat = LAT0 + points_m[:, 1] * M_LAT
    lon = LON0 + points_m[:, 0] * M_LON
    xyz = unit_vectors(lat, lon)
    w = np.ones(len(points_m))
    db, _ = dbscan_weighted(xyz, w, 15.0, 3)
    return db, split_modes(xyz, w, db, PARAMS), xyz


def majority(labels, members):
    vals, counts = np.unique(labels[members], return_counts=True)
    return vals[np.argmax(counts)], counts.max() / members.sum()


def test_home_next_to_busy_charger_is_split_off():
    """A busy charger (400 sessions, 8 m bays, 4 m GPS, 20 % poor fixes of 25 m) and a home
    50 m east (40 sessions, 4 m GPS). DBSCAN chains them through the poor fixes.

    Expected: DBSCAN gives one cluster; after the split the home's sessions are >= 90 % in a
    site of their own, and the charger's >= 90 % in another one.
    """
    rng = np.random.default_rng(3)
    charger = np.r_[blob(rng, 0, 0, 320, 4, 8), blob(rng, 0, 0, 80, 25)]
    home = blob(rng, 50, 0, 40, 4)
    db, lab, _ = cluster(np.r_[charger, home])
    is_home = np.r_[np.zeros(len(charger), bool), np.ones(len(home), bool)]
    assert majority(db, ~is_home)[0] == majority(db, is_home)[0]  # chained
    c_lab, c_share = majority(lab, ~is_home)
    h_lab, h_share = majority(lab, is_home)
    assert c_lab != h_lab
    assert c_share >= 0.9 and h_share >= 0.9


def two_stations(seed, east_m, sessions, poor_share, poor_m):
    """Station A at the origin and B ``east_m`` east, ``sessions`` = (A, B); 6 m bays, 4 m GPS,
    ``poor_share`` of each station's sessions poor fixes of ``poor_m``. Returns (chained by
    DBSCAN, (A's site, its share of A), (B's site, its share of B))."""
    rng = np.random.default_rng(seed)
    pts = []
    for east, n in zip((0.0, east_m), sessions, strict=True):
        poor = round(n * poor_share)
        pts.append(np.r_[blob(rng, east, 0, n - poor, 4, 6), blob(rng, east, 0, poor, poor_m)])
    db, lab, _ = cluster(np.r_[pts[0], pts[1]])
    in_a = np.r_[np.ones(len(pts[0]), bool), np.zeros(len(pts[1]), bool)]
    chained = majority(db, in_a)[0] == majority(db, ~in_a)[0]
    return chained, majority(lab, in_a), majority(lab, ~in_a)


def test_two_stations_bridged_by_poor_fixes_are_two_sites():
    """Two stations 90 m apart (300 sessions each, 20 % of them poor 25 m fixes that bridge the
    gap). Expected: two sites, each station >= 90 % in its own."""
    chained, (la, sa), (lb, sb) = two_stations(5, 90.0, (300, 300), 0.2, 25.0)
    assert chained
    assert la != lb and sa >= 0.9 and sb >= 0.9


def test_two_stations_35_m_apart_are_two_sites():
    """Two public stations 35 m apart in one car park (the simulator's closest distinct AFDC
    sites are 30-40 m apart): 150 and 60 sessions, 10 % poor 20 m fixes chaining them.
    Expected: two sites, each station >= 85 % in its own (one site with a 40 m mode gate)."""
    chained, (la, sa), (lb, sb) = two_stations(11, 35.0, (150, 60), 0.1, 20.0)
    assert chained
    assert la != lb and sa >= 0.85 and sb >= 0.85


@pytest.mark.parametrize("seed", range(3))
def test_busy_station_and_a_smaller_one_35_m_apart_are_two_sites(seed):
    """A busy station (700 sessions) and a smaller one (250) 35 m apart in one car park, 10 %
    poor 20 m fixes. The busy station's density reaches far into the valley: with a 10 m
    kernel and the saddle at half the lower peak they were one site (0 of these seeds), as
    were 10 pairs of eligible stations in each dense 60k quality fleet.

    Expected: two sites, each station >= 85 % in its own."""
    chained, (la, sa), (lb, sb) = two_stations(seed, 35.0, (700, 250), 0.1, 20.0)
    assert chained
    assert la != lb and sa >= 0.85 and sb >= 0.85


@pytest.mark.parametrize("seed", range(5))
def test_bumpy_garage_stays_one_site(seed):
    """An underground garage: 40 sessions spread over 15 m bays with 10 m GPS error (poor
    fixes of 50 m dropped), a bumpy density. Expected: whatever DBSCAN clustered is one site
    (no mode lies beyond 30 m of the highest)."""
    rng = np.random.default_rng(seed)
    db, lab, _ = cluster(blob(rng, 0, 0, 40, 10, 15))
    clustered = db >= 0
    assert clustered.sum() >= 30
    assert np.unique(lab[clustered]).size == 1


def test_single_busy_station_is_not_split():
    """One station, 2,000 sessions, 15 m bays, 4 m GPS and 12 % poor 20 m fixes: one site."""
    rng = np.random.default_rng(9)
    pts = np.r_[blob(rng, 0, 0, 1760, 4, 15), blob(rng, 0, 0, 240, 20)]
    db, lab, _ = cluster(pts)
    assert np.unique(db[db >= 0]).size == 1
    assert np.unique(lab[lab >= 0]).size == 1
    assert (lab >= 0).sum() == (db >= 0).sum()  # nothing clustered is dropped


def test_noise_untouched_and_every_clustered_point_kept():
    """Noise stays -1 and every clustered point keeps a site (the split only relabels)."""
    rng = np.random.default_rng(1)
    pts = np.r_[blob(rng, 0, 0, 200, 4, 5), blob(rng, 60, 0, 30, 4), [[800.0, 800.0]]]
    db, lab, _ = cluster(pts)
    assert lab[-1] == -1
    np.testing.assert_array_equal(lab < 0, db < 0)


def test_labels_do_not_depend_on_point_order():
    """Same points and ids in another order: the same partition into sites, same numbering."""
    rng = np.random.default_rng(2)
    pts = np.r_[blob(rng, 0, 0, 300, 4, 8), blob(rng, 0, 0, 40, 20), blob(rng, 50, 0, 30, 4)]
    lat, lon = LAT0 + pts[:, 1] * M_LAT, LON0 + pts[:, 0] * M_LON
    xyz, w = unit_vectors(lat, lon), np.ones(len(pts))
    db, _ = dbscan_weighted(xyz, w, 15.0, 3)
    ref = split_modes(xyz, w, db, PARAMS)
    perm = rng.permutation(len(pts))
    out = split_modes(xyz[perm], w[perm], db[perm], PARAMS, ids=perm)
    np.testing.assert_array_equal(out, ref[perm])


def test_site_centroids_land_on_the_stations():
    """After splitting a charger and a home 60 m apart, each site's centroid is within 5 m of
    the point it stands for."""
    rng = np.random.default_rng(4)
    pts = np.r_[blob(rng, 0, 0, 300, 4, 6), blob(rng, 0, 0, 40, 20), blob(rng, 60, 0, 40, 4)]
    _, lab, _ = cluster(pts)
    lat, lon = LAT0 + pts[:, 1] * M_LAT, LON0 + pts[:, 0] * M_LON
    found = []
    for k in np.unique(lab[lab >= 0]):
        m = lab == k
        if m.sum() >= 20:
            found.append((lat[m].mean(), lon[m].mean()))
    truth = [(LAT0, LON0), (LAT0, LON0 + 60 * M_LON)]
    for t in truth:
        d = min(haversine_m(t[0], t[1], f[0], f[1]) for f in found)
        assert d <= 5.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_home_between_two_stations_does_not_join_them(seed):
    """Two busy stations 70 m apart (240 sessions each in 6 m bays with 4 m GPS, plus 60 poor
    fixes of 20 m) and a home halfway between them (40 sessions, 4 m GPS). DBSCAN chains all
    three. The home's low peak sits on a high saddle with each station, so comparing basins
    pair by pair merged the home with both and the stations with each other through it
    (one site, before the union-find).

    Expected: DBSCAN chains the three; after the split each station's sessions are >= 90 %
    in a site of their own, the two sites differ, and the home's sessions all share one site.
    """
    rng = np.random.default_rng(seed)
    a = np.r_[blob(rng, 0, 0, 240, 4, 6), blob(rng, 0, 0, 60, 20)]
    home = blob(rng, 35, 0, 40, 4)
    b = np.r_[blob(rng, 70, 0, 240, 4, 6), blob(rng, 70, 0, 60, 20)]
    db, lab, _ = cluster(np.r_[a, home, b])
    which = np.repeat([0, 1, 2], [len(a), len(home), len(b)])
    assert len({majority(db, which == k)[0] for k in range(3)}) == 1  # chained
    a_lab, a_share = majority(lab, which == 0)
    b_lab, b_share = majority(lab, which == 2)
    assert a_lab != b_lab and a_share >= 0.9 and b_share >= 0.9
    assert majority(lab, which == 1)[1] == 1.0
