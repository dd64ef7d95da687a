"""geo.matching.match_nearest: one to one, nearest first, within reach — the greedy rule."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.distance import haversine_m
from geo.matching import match_nearest

M_PER_DEG = 111_195.08  # metres per degree of latitude on the mean sphere


def _greedy(lat1, lon1, lat2, lon2, max_m):
    """The reference: all pairs sorted by (distance, i, j), accept when both are free."""
    d = haversine_m(np.asarray(lat1)[:, None], np.asarray(lon1)[:, None], lat2, lon2)
    ii, jj = np.nonzero(d <= max_m)
    mm = np.round(d[ii, jj] * 1000.0)  # the documented tie rule: distances to the millimetre
    pairs = sorted(zip(mm.tolist(), ii.tolist(), jj.tolist(), strict=True))
    used_i, used_j, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j))
    return sorted(out)


def test_chain_nearest_first_not_first_come():
    """Points on a meridian at 0, 30, 50 m (set 1) and 40 m (set 2), reach 45 m.

    The 50 m point is 10 m from the 40 m point, the 30 m point 10 m too; ties go to the lower
    left index: expected pair (1, 0). Point 0 is 40 m away but the target is taken.
    """
    lat1 = np.array([0.0, 30.0, 50.0]) / M_PER_DEG
    lat2 = np.array([40.0]) / M_PER_DEG
    left, right, d = match_nearest(lat1, np.zeros(3), lat2, np.zeros(1), 45.0)
    assert left.tolist() == [1] and right.tolist() == [0]
    assert abs(d[0] - 10.0) < 1e-6


def test_across_antimeridian_and_exact_reach():
    """Two points 20 m apart across 180°: matched within 25 m, not within 15 m."""
    dlon = 10.0 / M_PER_DEG
    args = ([0.0], [180.0 - dlon], [0.0], [-180.0 + dlon])
    assert match_nearest(*args, 25.0)[0].tolist() == [0]
    assert match_nearest(*args, 15.0)[0].size == 0


coords = st.lists(st.tuples(st.floats(0.0, 300.0), st.floats(0.0, 300.0)), min_size=0, max_size=25)


@settings(max_examples=40, deadline=None)
@given(coords, coords, st.floats(5.0, 120.0))
def test_equals_greedy_reference(a, b, reach):
    """On random points (metres in a 300 m square at 47°N) the result equals the greedy loop."""
    lat0, lon0 = 47.0, 8.0
    k = np.cos(np.radians(lat0))
    lat1 = np.array([lat0 + y / M_PER_DEG for _, y in a])
    lon1 = np.array([lon0 + x / (M_PER_DEG * k) for x, _ in a])
    lat2 = np.array([lat0 + y / M_PER_DEG for _, y in b])
    lon2 = np.array([lon0 + x / (M_PER_DEG * k) for x, _ in b])
    left, right, _ = match_nearest(lat1, lon1, lat2, lon2, reach)
    got = sorted(zip(left.tolist(), right.tolist(), strict=True))
    assert got == _greedy(lat1, lon1, lat2, lon2, reach)
