"""find_sites: the reference path, on small hand-made windows with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.config import ClusterParams
from pipelines.schema import SITE_CORE_COLUMNS
from pipelines.sites import find_sites, place_poor_fixes, summarise_labels

M_PER_DEG_LAT = 111_195.08  # metres per degree of latitude on the 6_371_008.8 m sphere


def _sessions(rows: list[tuple]) -> pd.DataFrame:
    """rows: (vehicle, day 'YYYY-MM-DD', lat, lon, max_power_kw, gps_accuracy_m)."""
    v, d, lat, lon, p, acc = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "vehicle": list(v),
            "plug_in_utc": pd.to_datetime([f"{x}T10:00:00Z" for x in d], utc=True),
            "lat": np.array(lat, float),
            "lon": np.array(lon, float),
            "max_power_kw": np.array(p, np.float32),
            "gps_accuracy_m": np.array(acc, np.float32),
        }
    )


@pytest.fixture
def two_sites_and_noise() -> pd.DataFrame:
    """A DC station at (35, 139): 6 sessions of 3 vehicles within 10 m, 5 DC (50 kW) and one of
    unknown power; an AC site 1 km north: 4 sessions, 2 vehicles, 7 kW; one lone session 5 km
    away (noise); one session at the DC station with 500 m GPS accuracy (unusable: -1).

    Expected: 2 sites; site at 35.0 is 'dc' (5 of 5 known are DC), 6 sessions, 3 vehicles,
    first 2026-11-01, last 2026-11-06; the other 'ac', 4 sessions, 2 vehicles, max 7 kW.
    """
    d = 1 / M_PER_DEG_LAT
    rows = [
        ("a", "2026-11-01", 35.0, 139.0, 50.0, 5.0),
        ("b", "2026-11-02", 35.0 + 5 * d, 139.0, 50.0, 5.0),
        ("c", "2026-11-03", 35.0 - 5 * d, 139.0, 50.0, 5.0),
        ("a", "2026-11-04", 35.0 + 10 * d, 139.0, 50.0, 5.0),
        ("b", "2026-11-05", 35.0, 139.0, 50.0, 5.0),
        ("c", "2026-11-06", 35.0, 139.0, np.nan, np.nan),
        ("a", "2026-11-06", 35.0, 139.0, 150.0, 500.0),
        ("d", "2026-11-02", 35.009, 139.0, 7.0, 5.0),
        ("d", "2026-11-03", 35.009, 139.0, 7.0, 5.0),
        ("e", "2026-11-04", 35.009 + 3 * d, 139.0, 7.0, 5.0),
        ("e", "2026-11-05", 35.009, 139.0, 7.0, 5.0),
        ("f", "2026-11-05", 35.05, 139.0, 7.0, 5.0),
    ]
    return _sessions(rows)


def test_find_sites_two_sites(two_sites_and_noise: pd.DataFrame) -> None:
    sites, labels = find_sites(two_sites_and_noise, ClusterParams())
    assert list(sites.columns) == list(SITE_CORE_COLUMNS)
    assert sites["cluster"].tolist() == [0, 1]
    dc = sites.loc[sites["lat"].sub(35.0).abs() < 1e-3].iloc[0]
    ac = sites.loc[sites["lat"].sub(35.009).abs() < 1e-3].iloc[0]
    assert (dc.sessions, dc.vehicles, dc.power_class) == (6, 3, "dc")
    assert (dc.first_seen, dc.last_seen, dc.max_power_kw) == ("2026-11-01", "2026-11-06", 50.0)
    assert (ac.sessions, ac.vehicles, ac.power_class, ac.max_power_kw) == (4, 2, "ac", 7.0)
    assert labels.dtype == np.int64 and labels.shape == (12,)
    assert (labels[:6] == dc.cluster).all() and (labels[7:11] == ac.cluster).all()
    assert labels[6] == -1 and labels[11] == -1


def test_find_sites_deterministic_labels(two_sites_and_noise: pd.DataFrame) -> None:
    """Shuffling the input rows gives the same sites and the same label per session."""
    a, la = find_sites(two_sites_and_noise, ClusterParams())
    perm = np.random.default_rng(3).permutation(len(two_sites_and_noise))
    b, lb = find_sites(two_sites_and_noise.iloc[perm].reset_index(drop=True), ClusterParams())
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(la[perm], lb)


def test_summarise_labels_reproduces_the_clustered_sites(
    two_sites_and_noise: pd.DataFrame, charger_chained_with_workplace: pd.DataFrame
) -> None:
    """Summarising sessions by the labels find_sites gave them yields its sites, bit for bit
    (positions included), whatever the label numbers are."""
    for sessions in (two_sites_and_noise, charger_chained_with_workplace):
        sites, labels = find_sites(sessions, ClusterParams())
        pd.testing.assert_frame_equal(summarise_labels(sessions, labels, ClusterParams()), sites)
        shifted = summarise_labels(sessions, np.where(labels >= 0, labels + 5, -1), ClusterParams())
        assert shifted["cluster"].tolist() == (sites["cluster"] + 5).tolist()
        pd.testing.assert_frame_equal(
            shifted.drop(columns="cluster"), sites.drop(columns="cluster")
        )


def test_find_sites_empty() -> None:
    sites, labels = find_sites(
        _sessions([("a", "2026-11-01", 35.0, 139.0, 7.0, 5.0)]), ClusterParams()
    )
    assert sites.empty and list(sites.columns) == list(SITE_CORE_COLUMNS)
    assert labels.tolist() == [-1]


@pytest.fixture
def charger_chained_with_home() -> pd.DataFrame:
    """A public charger at (35, 139) used once each by 10 vehicles (fixes 2 m south, on, and
    2 m north of it: mean 0.2 m south), and a home 12 m north where one vehicle plugged in 30
    times: within eps (15 m) and under the mode gate (25 m), so DBSCAN chains them into one site.

    Expected: 1 site of 40 sessions and 11 vehicles, placed within 0.5 m of the charger: ten
    drivers came once, so each driver's mean position weighs one over its sessions there, 1 for
    each visitor and 1/30 for the home's car. Weighting by sessions would put it 30/40 of the
    way to the home, 9 m north.
    """
    d = 1 / M_PER_DEG_LAT
    charger = [(f"v{i}", "2026-11-02", 35.0 + (i % 3 - 1) * 2 * d) for i in range(10)]
    home = [("home", f"2026-11-{1 + i % 28:02d}", 35.0 + 12 * d) for i in range(30)]
    return _sessions([(*r, 139.0, 7.0, 5.0) for r in charger + home])


def test_find_sites_places_a_chained_site_where_most_drivers_plug_in(
    charger_chained_with_home: pd.DataFrame,
) -> None:
    sites, labels = find_sites(charger_chained_with_home, ClusterParams())
    assert len(sites) == 1 and (labels == 0).all()
    site = sites.iloc[0]
    assert (site.sessions, site.vehicles) == (40, 11)
    north_m = (site.lat - 35.0) * M_PER_DEG_LAT
    assert abs(north_m - (10 * -0.2 + 12 / 30) / (10 + 1 / 30)) < 0.05


@pytest.fixture
def charger_chained_with_workplace() -> pd.DataFrame:
    """A public charger at (35, 139) used once each by 12 vehicles, and a workplace car park
    12 m north where 6 commuters plugged in 10 times each (weekdays of two weeks): one site.

    Expected: 1 site of 72 sessions and 18 vehicles, within 1 m of the charger: 12 drivers came
    once (>= ``visitor_min_once``, 10), so each driver weighs one over its sessions, the
    visitors 1 each, the commuters 1/10 each: 12 m x 0.6 / 12.6 = 0.57 m north. Counting each
    driver once (as below 10 one-time drivers) puts it 12 m x 6/18 = 4 m north, where no
    public charger is.
    """
    d = 1 / M_PER_DEG_LAT
    charger = [(f"v{i}", "2026-11-02", 35.0) for i in range(12)]
    days = [f"2026-11-{day:02d}" for day in (2, 3, 4, 5, 6, 9, 10, 11, 12, 13)]
    work = [(f"c{i}", day, 35.0 + 12 * d) for i in range(6) for day in days]
    return _sessions([(*r, 139.0, 7.0, 5.0) for r in charger + work])


def test_find_sites_places_a_charger_chained_with_a_workplace_where_visitors_plug_in(
    charger_chained_with_workplace: pd.DataFrame,
) -> None:
    sites, labels = find_sites(charger_chained_with_workplace, ClusterParams())
    assert len(sites) == 1 and (labels == 0).all()
    site = sites.iloc[0]
    assert (site.sessions, site.vehicles) == (72, 18)
    north_m = (site.lat - 35.0) * M_PER_DEG_LAT
    assert abs(north_m - 12 * 0.6 / 12.6) < 0.05
    # with fewer than visitor_min_once one-time drivers, each driver counts once: 4 m north
    sites, _ = find_sites(charger_chained_with_workplace, ClusterParams(visitor_min_once=13))
    assert abs((sites.lat.iloc[0] - 35.0) * M_PER_DEG_LAT - 4.0) < 0.05


def _ring(n: int, radius_m: float, day: str = "2026-11-03") -> list[tuple]:
    """One session each of ``n`` vehicles on a circle of ``radius_m`` around (36, 140)."""
    t = np.arange(n) * 2 * np.pi / n
    north, east = radius_m * np.sin(t), radius_m * np.cos(t)
    lon_m = M_PER_DEG_LAT * np.cos(np.radians(36.0))
    return [(f"r{i}", day, 36.0 + north[i] / M_PER_DEG_LAT, 140.0 + east[i] / lon_m, 7.0, 5.0)
            for i in range(n)]  # fmt: skip


def test_quiet_station_in_a_wide_car_park_is_rescued_from_noise():
    """Five vehicles plugged in once each at a quiet station whose bays spread 14 m from its
    centre: neighbouring sessions are 16.5 m apart, more than eps (15 m), so DBSCAN leaves all
    five as noise. The rescue (a second DBSCAN over the noise, eps 30 m, 3 sessions) finds them.

    Expected: one site of 5 sessions and 5 vehicles within 1 m of the centre; none with the
    rescue turned off (``rescue_min_sessions=0``).
    """
    sessions = _sessions(_ring(5, 14.0))
    sites, labels = find_sites(sessions, ClusterParams())
    assert len(sites) == 1 and (labels == 0).all()
    assert (sites.loc[0, "sessions"], sites.loc[0, "vehicles"]) == (5, 5)
    assert abs(sites.loc[0, "lat"] - 36.0) * M_PER_DEG_LAT < 1.0
    off, off_labels = find_sites(sessions, ClusterParams(rescue_min_sessions=0))
    assert off.empty and (off_labels == -1).all()


def test_three_sessions_in_a_wide_car_park_are_rescued_too():
    """Three vehicles plugged in once each 14 m from a quiet station's centre, 24 m apart:
    noise at eps 15 m, one group at the rescue's 30 m. Three sessions is the rescue's core
    weight (``rescue_min_sessions`` 3), as the classifier publishes a three-session site in a
    quiet area (a simulated 400-vehicle fleet, seed 45, lost such a station to noise).

    Expected: one site of 3 sessions and 3 vehicles; none with ``rescue_min_sessions=4``.
    """
    sessions = _sessions(_ring(3, 14.0))
    sites, labels = find_sites(sessions, ClusterParams())
    assert len(sites) == 1 and (labels == 0).all()
    assert (sites.loc[0, "sessions"], sites.loc[0, "vehicles"]) == (3, 3)
    four, four_labels = find_sites(sessions, ClusterParams(rescue_min_sessions=4))
    assert four.empty and (four_labels == -1).all()


def test_fringe_of_a_busy_station_stays_noise():
    """A station with 10 sessions at one spot, and eight stray fixes on a circle 20 m around it
    (15.3 m apart: noise at eps 15 m, a group at the rescue's 30 m, but 20 m from the station's
    sessions, within the 40 m clearance).

    Expected: one site of 10 sessions; the eight strays stay noise (no second site to split
    the station). Without the clearance they would become a ring-shaped site of their own.
    """
    rows = [("s", f"2026-11-{d:02d}", 36.0, 140.0, 7.0, 5.0) for d in range(1, 11)]
    sessions = _sessions(rows + _ring(8, 20.0))
    sites, labels = find_sites(sessions, ClusterParams())
    assert len(sites) == 1 and sites.loc[0, "sessions"] == 10
    assert (labels[:10] == 0).all() and (labels[10:] == -1).all()
    ring, _ = find_sites(sessions, ClusterParams(rescue_clearance_m=0.0))
    assert sorted(ring["sessions"]) == [8, 10]


def test_quiet_station_in_two_groups_is_one_site():
    """A quiet DC station whose six sessions (six vehicles) fell into two groups of three whose
    centres are 21 m apart (each group within 4 m and 17 m from the other: two DBSCAN clusters
    at eps 15 m, min 3), as on a simulated 400-vehicle fleet (seed 49); and, 80 m north, a row
    of three such groups, centres 21 m and then 23 m apart. Thin clusters join only in mutual
    nearest pairs, so the row does not chain into one.

    Expected: the station is one site of 6 sessions; in the row, the two groups nearest each
    other join (6 sessions) and the third stays on its own (3): sessions [3, 6, 6]. With the
    join turned off (``join_thin_m=0``): five sites of 3.
    """
    north = [0, 2, 4, 21, 23, 25, 80, 82, 84, 101, 103, 105, 124, 126, 128]
    rows = [
        (f"v{i}", f"2026-11-{1 + i % 20:02d}", 36.0 + n / M_PER_DEG_LAT, 140.0, 50.0, 5.0)
        for i, n in enumerate(north)
    ]
    sites, labels = find_sites(_sessions(rows), ClusterParams())
    assert sorted(sites["sessions"]) == [3, 6, 6]
    assert len(set(labels[:6])) == 1 and labels[0] >= 0
    off, _ = find_sites(_sessions(rows), ClusterParams(join_thin_m=0.0))
    assert list(off["sessions"]) == [3] * 5


def test_poor_fixes_of_a_quiet_station_join_it():
    """A quiet AC station: four vehicles within 4 m of it (five sessions, one site), and a
    fifth vehicle whose
    only session is a poor fix 28 m north reporting 22 m accuracy (noise at eps 15 m, too few
    for the rescue); a lone sharp fix (5 m accuracy) 28 m south, somewhere else; and a poor fix
    (25 m) 200 m east, near nothing. As on simulated 400-vehicle fleets (seeds 134, 98, 169,
    170) where a station's five drivers became four and the site a "household".

    Expected: the poor fix joins the station (6 sessions, 5 vehicles, position unchanged); the
    sharp fix and the far one stay noise. With ``poor_fix_reach=0``: 4 vehicles.
    """
    d = 1 / M_PER_DEG_LAT
    lon_m = M_PER_DEG_LAT * np.cos(np.radians(36.0))
    rows = [(v, "2026-11-02", 36.0 + k * d, 140.0, 7.0, 5.0) for k, v in enumerate("abcda")]
    rows += [
        ("e", "2026-11-03", 36.0 + 28 * d, 140.0, 7.0, 22.0),
        ("f", "2026-11-04", 36.0 - 28 * d, 140.0, 7.0, 5.0),
        ("g", "2026-11-05", 36.0, 140.0 + 200 / lon_m, 7.0, 25.0),
    ]
    sessions = _sessions(rows)
    p = ClusterParams()
    sites, labels = find_sites(sessions, p)
    assert len(sites) == 1 and sites.loc[0, "vehicles"] == 4
    out, lab = place_poor_fixes(sessions, labels, sites, p)
    assert lab.tolist() == [0, 0, 0, 0, 0, 0, -1, -1]
    assert (out.loc[0, "sessions"], out.loc[0, "vehicles"]) == (6, 5)
    assert out[["lat", "lon"]].equals(sites[["lat", "lon"]])
    assert out.loc[0, "last_seen"] == "2026-11-03"
    off, off_lab = place_poor_fixes(sessions, labels, sites, ClusterParams(poor_fix_reach=0.0))
    assert off.loc[0, "vehicles"] == 4 and (off_lab == labels).all()


def _clustered_then_placed(rows: list[tuple]):
    """find_sites, then place_poor_fixes: (sites, labels before, sites after sorted by
    sessions, labels after)."""
    sessions, p = _sessions(rows), ClusterParams()
    sites, labels = find_sites(sessions, p)
    out, lab = place_poor_fixes(sessions, labels, sites, p)
    return sites, labels, out.sort_values("sessions"), lab


def test_a_busy_chargers_poor_fixes_do_not_reach_the_home_beside_it():
    """A home 50 m north of a busy charger: the household's 8 sessions at the home, 60 drivers
    at the charger (all within 3 m), and four of the charger's drivers' poor fixes (24 m
    accuracy) 28 m north of it and 8 or 24 m east or west, 16 m apart (noise; the fringe the
    rescue leaves alone): nearer the home (23-33 m) than the charger (29-37 m). Each could be
    either's; the charger, 7.5 times busier, is the likelier.

    Expected: two sites; the four poor fixes join the charger (64 sessions, 60 vehicles); the
    home keeps its 8 sessions and its one vehicle.
    """
    d = 1 / M_PER_DEG_LAT
    lon_m = M_PER_DEG_LAT * np.cos(np.radians(36.0))
    rows = [("home", f"2026-11-{i + 1:02d}", 36.0 + 50 * d, 140.0, 7.0, 5.0) for i in range(8)]
    rows += [(f"p{i}", "2026-11-02", 36.0 + (i % 3) * d, 140.0, 7.0, 5.0) for i in range(60)]
    rows += [(f"p{i}", "2026-11-03", 36.0 + 28 * d, 140.0 + x / lon_m, 7.0, 24.0)
             for i, x in enumerate([-24, -8, 8, 24])]  # fmt: skip
    sites, labels, by_size, lab = _clustered_then_placed(rows)
    assert sorted(sites["sessions"]) == [8, 60] and (labels[-4:] == -1).all()
    assert by_size["sessions"].tolist() == [8, 64]
    assert by_size["vehicles"].tolist() == [1, 60]
    assert len(set(lab[-4:])) == 1 and lab[-1] == lab[10]


def test_a_residents_poor_fix_goes_back_to_its_garage_not_the_busier_charger():
    """An apartment garage 45 m north of a busy charger: 8 residents with 3 sessions each at
    the garage, 100 sessions of 60 drivers at the charger. Three residents' poor fixes (24 m
    accuracy) land 25 m north of the charger, 16 m apart east-west (noise): 20-25 m from the
    garage, 25-32 m from the charger. By site weight alone the charger, four times busier,
    would be likelier; but these vehicles plug in at the garage and never at the charger.

    Expected: the three fixes join the garage (27 sessions, 8 vehicles); the charger keeps 100
    sessions and 60 vehicles (no resident among its drivers).
    """
    d = 1 / M_PER_DEG_LAT
    lon_m = M_PER_DEG_LAT * np.cos(np.radians(36.0))
    rows = [(f"p{i % 60}", "2026-11-02", 36.0 + (i % 3) * d, 140.0, 7.0, 5.0) for i in range(100)]
    rows += [(f"r{i % 8}", f"2026-11-{1 + i // 8:02d}", 36.0 + (45 + i % 3) * d, 140.0, 7.0, 5.0)
             for i in range(24)]  # fmt: skip
    rows += [(f"r{i}", "2026-11-05", 36.0 + 25 * d, 140.0 + x / lon_m, 7.0, 24.0)
             for i, x in enumerate([-16, 0, 16])]  # fmt: skip
    sites, labels, by_size, lab = _clustered_then_placed(rows)
    assert sorted(sites["sessions"]) == [24, 100] and (labels[-3:] == -1).all()
    assert by_size["sessions"].tolist() == [27, 100]
    assert by_size["vehicles"].tolist() == [8, 60]
    assert (lab[-3:] == lab[100]).all()
