"""pipelines.identity: stable site ids, new/active/stale status, retirement, stored history."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines.config import LifecycleParams
from pipelines.identity import (
    HISTORY_COLUMNS,
    assign_identity,
    read_history,
    write_history,
)
from pipelines.schema import SITE_CORE_COLUMNS

M_PER_DEG = 111_195.08
LAT0, LON0 = 42.36, -71.06
PARAMS = LifecycleParams(
    match_m=40.0, stale_days=21, retire_days=60, stale_p=0.01, min_stale_days=3
)


def _day(offset: int) -> str:
    return (dt.date(2026, 10, 1) + dt.timedelta(days=offset)).isoformat()


def _sites(rows: list[dict]) -> pd.DataFrame:
    """Public sites; each row gives ``north_m``/``east_m`` from a Boston origin and overrides."""
    out = []
    for k, r in enumerate(rows):
        out.append(
            {
                "cluster": k,
                "lat": LAT0 + r.get("north_m", 0.0) / M_PER_DEG,
                "lon": LON0 + r.get("east_m", 0.0) / (M_PER_DEG * np.cos(np.radians(LAT0))),
                "sessions": r.get("sessions", 30),
                "vehicles": r.get("vehicles", 10),
                "first_seen": r.get("first_seen", _day(0)),
                "last_seen": r.get("last_seen", _day(0)),
                "power_class": "ac",
                "max_power_kw": 11.0,
            }
        )
    return pd.DataFrame(out, columns=list(SITE_CORE_COLUMNS))


def _run(rows, history, day):
    return assign_identity(_sites(rows), history, day, PARAMS)


def test_first_day_new_then_active_and_id_kept_when_centroid_moves_5m():
    """Day 0: two sites 500 m apart -> both `new`.

    Day 1: each centroid moved 5 m -> the same ids, both `active`.
    """
    pub0, hist0 = _run([{"east_m": 0.0}, {"east_m": 500.0}], None, _day(0))
    assert pub0["status"].tolist() == ["new", "new"]
    assert pub0["site_id"].str.fullmatch(r"cp-[0-9a-f]{15}").all()
    ids0 = dict(zip(pub0["cluster"], pub0["site_id"], strict=True))

    moved = [{"east_m": 5.0, "last_seen": _day(1)}, {"east_m": 500.0, "north_m": 5.0}]
    pub1, _ = _run(moved, hist0, _day(1))
    ids1 = dict(zip(pub1["cluster"], pub1["site_id"], strict=True))
    assert ids1 == ids0
    assert pub1["status"].tolist() == ["active", "active"]
    assert pub1["first_published"].tolist() == [_day(0), _day(0)]


def test_new_site_next_to_known_one_gets_own_id():
    """Day 1 adds a site 150 m from a known one: the known keeps its id, the other is `new`."""
    pub0, hist0 = _run([{"east_m": 0.0}], None, _day(0))
    pub1, _ = _run([{"east_m": 0.0}, {"east_m": 150.0}], hist0, _day(1))
    by_cluster = pub1.set_index("cluster")
    assert by_cluster.loc[0, "site_id"] == pub0["site_id"].iloc[0]
    assert by_cluster.loc[0, "status"] == "active"
    assert by_cluster.loc[1, "status"] == "new"
    assert by_cluster.loc[1, "site_id"] != by_cluster.loc[0, "site_id"]


def test_stale_after_stale_days_then_retired():
    """A quiet-ish site (30 sessions over 91 days: ~0.33/day, adaptive 14 d) last used on day 0.

    Adaptive threshold ceil(ln(100)/0.33) = 14 days -> `stale` from day 14 (not on day 13);
    retired (dropped) once quiet for 60 days.
    """
    row = {"sessions": 30, "first_seen": _day(-90), "last_seen": _day(0)}
    _, hist = _run([row], None, _day(0))
    statuses = {}
    for offset in (1, 13, 14, 59):
        pub, hist = _run([row], hist, _day(offset))
        statuses[offset] = pub["status"].tolist()
    assert statuses == {1: ["active"], 13: ["active"], 14: ["stale"], 59: ["stale"]}
    pub, hist = _run([row], hist, _day(60))
    assert pub.empty and hist.empty


def test_rare_site_uses_configured_stale_days_and_busy_site_min_days():
    """5 sessions in 91 days (adaptive 84 d) -> stale only after stale_days = 21;
    a busy site (300 sessions in 30 days) -> stale after min_stale_days = 3, not 2."""
    rare = {"sessions": 5, "first_seen": _day(-90), "last_seen": _day(0)}
    busy = {"east_m": 1000.0, "sessions": 300, "first_seen": _day(-29), "last_seen": _day(0)}
    _, hist = _run([rare, busy], None, _day(0))
    got = {}
    for offset in (2, 3, 20, 21):
        pub, hist = _run([rare, busy], hist, _day(offset))
        got[offset] = pub.sort_values("cluster")["status"].tolist()
    assert got == {
        2: ["active", "active"],
        3: ["active", "stale"],
        20: ["active", "stale"],
        21: ["stale", "stale"],
    }


def test_busy_site_waits_for_late_uploads_before_it_is_stale():
    """A busy charger: 78 sessions in 30 days (2.6 a day), quiet since day 0, with
    ``stale_p`` 0.001 (ln(1000) / 2.6 = 2.66 days of full data).

    Cars upload late: of a day's sessions 0.46 have landed the same day, 0.78 a day later,
    0.89 after two and 0.95 after three (the simulator's upload delays; 60k seed 707's
    P149618 and 706's P148099 were shown stale three and four days after their last landed
    session while their later sessions were still on their way). Three quiet days then hold
    0.46 + 0.78 + 0.89 = 2.13 days' worth of landed sessions, four 3.08.

    Expected: with every session landed at once, ``stale`` after 3 quiet days; with the late
    uploads, ``active`` after 3 and ``stale`` after 4.
    """
    params = dataclasses.replace(PARAMS, stale_p=0.001)
    busy = {"sessions": 78, "first_seen": _day(-29), "last_seen": _day(0)}
    landed = np.array([0.46, 0.78, 0.89, 0.95, 0.97, 0.99])
    _, hist = assign_identity(_sites([busy]), None, _day(0), params)
    for offset, at_once, late in ((3, "stale", "active"), (4, "stale", "stale")):
        pub, _ = assign_identity(_sites([busy]), hist, _day(offset), params)
        assert pub["status"].tolist() == [at_once]
        pub, _ = assign_identity(_sites([busy]), hist, _day(offset), params, landed=landed)
        assert pub["status"].tolist() == [late], offset


def test_site_whose_use_collapsed_is_stale_though_not_quiet():
    """A closed charger beside open ones: 1,000 sessions from day -69 to day -21 (~20 a day),
    then 3 stray fixes of its neighbours in the last 21 days, the last one yesterday. Its rate
    before gives 21 x 20.4 = ~429 sessions in 21 days; 3 < 0.1 of that, and a Poisson count at
    that rate is that low with probability ~1e-179.

    Expected: ``stale`` (use collapsed) although last used yesterday; ``active`` with 100
    recent sessions (a quieter month, 0.23 of the rate), without the ``recent_sessions``
    column, or with ``stale_collapse_share`` 0. A small closed charger (38 sessions before,
    ~16.3 expected, 1 stray yesterday: probability 1.4e-6) -> ``stale``; with 12 before (~5.1
    expected) 1 is not below 0.1 of that -> ``active`` (too little to tell); with 38 before
    and ``stale_collapse_p`` 1e-6 -> ``active``.
    """
    closed = {"sessions": 1003, "first_seen": _day(-69), "last_seen": _day(-1)}
    small = {"east_m": 1000.0, "sessions": 39, "first_seen": _day(-69), "last_seen": _day(-1)}
    quiet = {"east_m": 2000.0, "sessions": 13, "first_seen": _day(-69), "last_seen": _day(-1)}
    _, hist = _run([closed, small, quiet], None, _day(-1))

    def status(recent: list[int], params: LifecycleParams = PARAMS, column: bool = True):
        sites = _sites([closed, small, quiet])
        if column:
            sites["recent_sessions"] = recent
        pub, _ = assign_identity(sites, hist, _day(0), params)
        return pub.sort_values("cluster")["status"].tolist()

    assert status([3, 1, 1]) == ["stale", "stale", "active"]
    assert status([100, 1, 1])[0] == "active"
    assert status([3, 1, 1], column=False) == ["active"] * 3
    off = dataclasses.replace(PARAMS, stale_collapse_share=0.0)
    assert status([3, 1, 1], off) == ["active"] * 3
    strict = dataclasses.replace(PARAMS, stale_collapse_p=1e-6)
    assert status([3, 1, 1], strict) == ["stale", "active", "active"]


def test_closed_charger_keeping_a_households_sessions_is_stale_when_its_drivers_stop():
    """Five sites, each also used yesterday (so never quiet), seen since day -89 (``first``)
    or day -69. Occasional sessions are those of vehicles with fewer than 4 sessions there.

    * ``garage``: a closed charger clustered with a garage 30 m away. 1,500 sessions since
      day -69, 300 in the last 21 days (the garage's nights: 0.58 of the ~514 its rate gives,
      so the total did not collapse); 900 occasional, 5 of them recent (the rate before gives
      ~384, and 5 < 0.1 of that) -> ``stale``.
    * ``open``: the same numbers with 300 recent occasional sessions -> ``active``.
    * ``homes``: a charger closed in the window's first days, clustered with three homes:
      180 sessions since day -89, 35 recent; its 21 occasional sessions (0.23 a day) stopped
      41 days ago, longer than ``ln(1/0.001) / 0.23`` = 30 days -> ``stale``.
    * ``not_yet``: as ``homes``, but the last occasional session 25 days ago -> ``active``.
    * ``rural``: a quiet charger used mostly by a few locals, 5 occasional sessions in 90 days,
      the last 40 days ago: it would take 125 days to tell -> ``active``.

    Without the occasional columns, or with ``stale_occasional_p`` 0 (the collapse test on
    occasional sessions still runs), ``homes`` is ``active``; without them ``garage`` is too.
    """
    first = _day(-89)
    base = {"first_seen": _day(-69), "last_seen": _day(-1), "sessions": 1500}
    small = {"first_seen": first, "last_seen": _day(-1), "sessions": 180}
    rows = [
        {**base, "east_m": 0.0},
        {**base, "east_m": 1000.0},
        {**small, "east_m": 2000.0},
        {**small, "east_m": 3000.0},
        {**small, "east_m": 4000.0, "sessions": 60},
    ]
    _, hist = _run(rows, None, _day(-1))
    use = {
        "recent_sessions": [300, 300, 35, 35, 14],
        "occasional_sessions": [900, 900, 21, 21, 5],
        "recent_occasional_sessions": [5, 300, 0, 0, 0],
        "occasional_last_seen": [_day(-3), _day(-1), _day(-41), _day(-25), _day(-40)],
    }

    def status(params: LifecycleParams = PARAMS, columns: tuple[str, ...] = tuple(use)):
        sites = _sites(rows).assign(**{c: use[c] for c in columns})
        pub, _ = assign_identity(sites, hist, _day(0), params)
        return pub.sort_values("cluster")["status"].tolist()

    assert status() == ["stale", "active", "stale", "active", "active"]
    off = dataclasses.replace(PARAMS, stale_occasional_p=0.0)
    assert status(off) == ["stale", "active", "active", "active", "active"]
    assert status(columns=("recent_sessions",)) == ["active"] * 5


def test_small_closed_station_that_caught_one_stray_is_stale():
    """Three sites seen since day -89 (PARAMS: stale_p 0.01, stale_days 21).

    * ``closed``: 22 sessions, 21 of them by day -78, then one stray fix on day -13 (0.29
      sessions a day between its first and last). Quiet 13 days, under the 21 its rate asks;
      but at most one session in 78 days happens at that rate with probability ~5e-9 ->
      ``stale``.
    * ``rare``: 5 sessions in 88 days, the last but one on day -40 (one in 40 days: 0.33 at
      its rate) -> ``active``.
    * ``busy``: 60 sessions, the last but one on day -3 (under ``stale_days``) -> ``active``.

    With ``stale_one_stray`` false, or without the ``last_seen_but_one`` column, ``closed`` is
    ``active``.
    """
    rows = [
        {"sessions": 22, "first_seen": _day(-89), "last_seen": _day(-13)},
        {"east_m": 1000.0, "sessions": 5, "first_seen": _day(-89), "last_seen": _day(-2)},
        {"east_m": 2000.0, "sessions": 60, "first_seen": _day(-89), "last_seen": _day(-1)},
    ]
    _, hist = _run(rows, None, _day(-1))

    def status(params: LifecycleParams = PARAMS, column: bool = True):
        sites = _sites(rows)
        if column:
            sites["last_seen_but_one"] = [_day(-78), _day(-40), _day(-3)]
        pub, _ = assign_identity(sites, hist, _day(0), params)
        return pub.sort_values("cluster")["status"].tolist()

    assert status() == ["stale", "active", "active"]
    off = dataclasses.replace(PARAMS, stale_one_stray=False)
    assert status(off) == ["active"] * 3
    assert status(column=False) == ["active"] * 3


def test_vanished_sites_dropped_by_default():
    """Sites that vanish from today's public sites (reclassified, re-clustered) are dropped."""
    old = {"east_m": 0.0, "sessions": 12, "first_seen": _day(-40), "last_seen": _day(-30)}
    recent = {"east_m": 800.0, "last_seen": _day(-1)}
    _, hist = _run([old, recent], None, _day(-1))
    pub, new_hist = assign_identity(_sites([]), hist, _day(0), PARAMS)
    assert pub.empty and new_hist.empty


def test_vanished_sites_carried_when_configured():
    """With carry_vanished: of two vanished sites, one last used 30 days ago (stale) is carried
    with its last known values and cluster -1; one used yesterday (e.g. reclassified) is dropped."""
    old = {"east_m": 0.0, "sessions": 12, "first_seen": _day(-40), "last_seen": _day(-30)}
    recent = {"east_m": 800.0, "last_seen": _day(-1)}
    _, hist = _run([old, recent], None, _day(-1))
    carry = dataclasses.replace(PARAMS, carry_vanished=True)
    pub, new_hist = assign_identity(_sites([]), hist, _day(0), carry)
    assert len(pub) == 1
    row = pub.iloc[0]
    assert row["status"] == "stale" and row["cluster"] == -1 and row["sessions"] == 12
    assert row["site_id"] == hist.sort_values("lon")["site_id"].iloc[0]
    assert new_hist.columns.tolist() == list(HISTORY_COLUMNS)


def test_ids_deterministic_and_collision_suffix():
    """Three sites within one H3 res-12 cell (1 m apart): ids `cp-<cell>`, `-1`, `-2` by (lat, lon),
    identical on a second call and independent of input row order."""
    rows = [{"north_m": 2.0}, {"north_m": 0.0}, {"north_m": 1.0}]
    pub_a, _ = _run(rows, None, _day(0))
    pub_b, _ = _run(rows[::-1], None, _day(0))
    ids_a = pub_a.sort_values("lat")["site_id"].tolist()
    base = ids_a[0]
    assert ids_a == [base, base + "-1", base + "-2"]
    assert pub_b.sort_values("lat")["site_id"].tolist() == ids_a
    # a fourth site in the same cell the next day continues after the highest suffix in use
    _, hist = _run(rows, None, _day(0))
    pub, _ = _run([*rows, {"north_m": 0.5, "east_m": 60.0}], hist, _day(1))
    new = pub[pub["status"] == "new"]["site_id"].tolist()
    assert len(new) == 1 and new[0] != base


def test_history_round_trip_and_rerun_reads_previous_day(tmp_path):
    """write_history(day) then read_history(next day) returns it; read_history(same day) returns
    the state before it, so rerunning a day gives identical ids and bytes."""
    lake = tmp_path / "lake"
    assert read_history(lake, _day(0)) is None
    _, hist0 = _run([{"east_m": 0.0}, {"east_m": 300.0}], None, _day(0))
    path0 = write_history(lake, _day(0), hist0)
    got = read_history(lake, _day(1))
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), hist0.sort_values("site_id").reset_index(drop=True),
        check_dtype=False,
    )  # fmt: skip
    assert read_history(lake, _day(0)) is None

    rows1 = [{"east_m": 3.0, "last_seen": _day(1)}, {"east_m": 300.0}]
    _, hist1 = _run(rows1, read_history(lake, _day(1)), _day(1))
    path1 = write_history(lake, _day(1), hist1)
    first_bytes = path1.read_bytes()
    _, hist1b = _run(rows1, read_history(lake, _day(1)), _day(1))  # the rerun
    write_history(lake, _day(1), hist1b)
    assert path1.read_bytes() == first_bytes
    assert path0.read_bytes() == path0.read_bytes()


@pytest.mark.parametrize("moved_m", [5.0, 35.0])
def test_match_within_match_m_only(moved_m):
    """A site moving 5 m or 35 m keeps its id (match_m 40); moving 60 m it does not."""
    _, hist = _run([{"east_m": 0.0}], None, _day(0))
    same, _ = _run([{"east_m": moved_m}], hist, _day(1))
    far, _ = _run([{"east_m": 60.0}], hist, _day(1))
    assert same["site_id"].tolist() == hist["site_id"].tolist()
    assert far["site_id"].tolist() != hist["site_id"].tolist()
    assert far["status"].tolist() == ["new"]
