"""Which discovered sites are public charge points: per-site features and explainable rules.

Three steps, each a pure function of tables:

* :func:`site_features` — one row per site with behavioural features computed from the window's
  sessions (who charges there, when, how long, how fast).
* :func:`classify_sites` — a class from :data:`pipelines.schema.SITE_CLASSES` and the reason codes
  that led to it, from thresholds in :class:`pipelines.config.ClassifyParams`.
* :func:`excluded_for_review` — the excluded sites for an analyst, with a coarse H3 cell instead
  of a position and no vehicle identifiers.

The rules, in order (documented with their evidence in ``docs/site-intelligence.md``):

1. *Quick charging is public evidence.* A site where most sessions are DC and short is never
   called residential, private, workplace or short of visitors: nobody has a DC charger in a
   home garage, and a quiet rural quick charger used mostly by a few locals is still public.
2. *A home*: one vehicle does most of the charging, overnight or for long stays
   (``dominant_vehicle``), or the household's vehicles that sleep there do a large share while
   friends drop by (``household``; the top vehicle sleeps there in earnest: many of its own
   sessions there are overnight and it does a fair part of its charging there, or it does
   most of its charging there), or one or two
   vehicles that do nearly all their charging there do a good share of its sessions, partly
   overnight (``loyal_overnight``): drivers without a home charger spread their sessions over
   several public chargers. Not where three more vehicles, not loyal to it, sleep there too
   and most vehicles came once, outside busy areas: *locals* without a home charger sharing
   their charger, one of them loyal. Nor, in a quiet area, where five or more vehicles use
   the site and its top vehicle does under 0.4 of its charging there, or the site is used
   mostly by day and the top vehicle leaves its car overnight on at most half its visits: a
   local's *favourite* public charger — unless that vehicle dominates and sleeps there on
   most of its visits (a home whose car also charges a lot elsewhere).
3. *A shared garage*: overnight charging by a closed group of regulars or by vehicles that
   sleep there (``overnight`` + ``closed_regular_group`` / ``resident_vehicles``).
   Where many vehicles charge within a kilometre (``local_sessions_per_day``), a public
   charger is shared by many drivers, so a site one vehicle sleeping there dominates
   (``dominant_in_busy_area``; where the area is only moderately busy, not when five or more
   vehicles use it and that one does under 0.3 of its own charging there), a small one whose
   top vehicle does a good share and much of all its own charging there, sleeping there or
   not (``loyal_in_busy_area``), or one whose sessions are mostly by vehicles sleeping there,
   partly overnight (``residents_in_busy_area``), is residential too.
4. *A workplace*: long weekday-daytime sessions (``weekday_daytime`` + ``long_dwell``), judged
   on all sessions or on those of vehicles sleeping elsewhere (a home next door chained into
   the site dilutes the first; a few of them are needed, one is no evidence). Outside busy
   areas, drivers who nearly all come once are commuters at a public charger unless every
   session is a weekday shift (all weekday-daytime, even the shortest stays long). There, too,
   a workplace's people come back: with nobody there for ``regular_min_sessions`` shifts
   (``employee_vehicles``), nobody loyal to the site and some drivers seen once, the long
   weekday stays are commuters' too.
5. *Private*: a closed regular group with long stays that is none of the above.
6. *Unconfirmed*: no evidence of public use yet — too few sessions (three suffice in a quiet
   area unless all were overnight), mostly poor GPS fixes
   (``poor_fixes``: where the imprecise fixes of sites nearby overlap), or too few sessions by
   vehicles that sleep at another site (``visitor_share``; more is asked of young and
   home-like sites) unless the group has shown itself open over two weeks, the site is used
   in the daytime, or several drivers without a home charger who are loyal to no charger
   sleep there (a garage's residents are loyal). Where thousands of sessions a day are
   plugged in nearby, a few one-off plug-ins, a good part overnight, are stray GPS fixes of
   the homes around (``strays_in_busy_area``) and wait too, as does a small site there whose
   fixes are often coarse (``blurred_in_busy_area``): their scatter overlapping.
   A site where vehicles that sleep there plug in tens of metres away from its visitors is a
   residence merged with the charger next to it (``residence_inside``) and is residential.
7. *Satellites* of an excluded site (its vehicles sleep at that site, within ``satellite_m``)
   take its class if partly used overnight: garage fragments split off by poor GPS in car
   parks keep the garage's evenings and nights. A fragment whose vehicles sleep at several
   sites nearby (no one of them its satellite_of; outside busy areas, two or more once the
   site has five sessions) and spent nights here too is residential (``neighbour_sleepers``).
8. *The neighbourhood*: where residential sites far outnumber public ones in the H3 ring, a
   public-looking site with few sessions (``thin_among_homes``), or in a well-observed
   residential district one whose users keep coming back (``repeat_among_homes``), or deep in
   one whose users are not nearly all new (``visited_among_homes``), or, wherever the public
   chargers of its size nearby draw almost only new drivers, a small one whose users come back
   (``returning_where_public_is_new``), is unconfirmed; where
   charging is common nearby, one next to a busier public site where a vehicle sleeping there
   does a good share is the home next door (``home_beside_charger``, residential), and a
   handful of sessions, many of the fixes that report an accuracy poor (or none reporting one,
   from more cars than the fleet's share of such cars gives by chance, ``no_accuracy_chance``),
   beside a public site ten times as busy is that site's fringe (``fringe_of_busier_site``,
   unconfirmed); a few one-off plug-ins, some of them coarse fixes, within a few hundred metres
   of a public site a hundred times as busy are its halo of GPS outliers
   (``halo_of_busier_site``, unconfirmed).
9. *The k floor*: a public-looking site (not a quick one) of only ``min_vehicles`` drivers,
   where a vehicle sleeps or the top vehicle does a fifth of its charging, is unconfirmed until
   a fourth driver plugs in (``at_k_floor``): a home its owner's friends visited; where both
   are true, until a fifth does; one whose drivers came over more than four weeks waits for a
   fourth too. The registry confirms it at once where it lists a charger.
10. Everything else is *public*; a site used by fewer than ``min_vehicles`` distinct vehicles is
    ``too_few_vehicles`` (k-anonymity) instead of public or unconfirmed, and that reason is
    added to every class where it applies.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from geo.distance import haversine_m, unit_vectors, unit_vectors_to_latlng
from geo.h3cells import cell_to_parent, cells_to_str, count_in_disks, latlng_to_cells
from geo.neighbours import heavier_neighbour, nearest_mean, nearest_quantile
from pipelines.config import ClassifyParams
from pipelines.schema import DC_POWER_KW, SITE_CORE_COLUMNS

__all__ = [
    "CONTEXT_COLUMNS",
    "FEATURE_COLUMNS",
    "REASONS",
    "classify_sites",
    "excluded_for_review",
    "session_roles",
    "site_features",
    "weekday_daytime",
]

#: feature columns added by :func:`site_features`, in order
FEATURE_COLUMNS: tuple[str, ...] = (
    "top_vehicle_share",  # sessions of the most frequent vehicle / sessions
    "top2_vehicle_share",  # sessions of the two most frequent vehicles / sessions
    "top_vehicle_overnight_share",  # overnight share of the top vehicle's sessions here
    "top_vehicle_loyalty",  # the top vehicle's sessions here / all its sessions in the window
    "regular_vehicles",  # vehicles with >= regular_min_sessions sessions here
    "regulars_share",  # share of sessions by those regulars
    "one_time_vehicle_share",  # vehicles seen exactly once / vehicles
    "sessions_per_vehicle",
    "overnight_share",  # sessions spanning local 03:00 or starting 16:00-04:00 and >= 2 h
    "evening_share",  # sessions starting 16:00-24:00 local
    "weekday_daytime_share",  # Mon-Fri, starting 06:00-11:59 local, ending the same day
    "weekend_share",  # sessions starting on Saturday or Sunday local
    "peak_hour",  # local start hour with most sessions (lowest on ties)
    "dwell_median_h",
    "dwell_p10_h",
    "dwell_p90_h",
    "long_dwell_share",  # sessions of >= 6 h
    "dc_share",  # sessions with max_power_kw >= DC_POWER_KW / sessions (unknown power: not DC)
    "energy_median_kwh",
    "active_days",  # distinct local days with a plug-in
    "span_days",  # local days from the first to the last plug-in, inclusive
    "max_daily_vehicles",  # most distinct vehicles plugging in on one local day
    "resident_share",  # share of sessions by vehicles with >= 2 overnight sessions here
    "anchored_share",  # share of sessions by vehicles that "sleep" here (most overnights)
    "anchored_vehicles",  # how many vehicles sleep here
    "visitor_share",  # share of sessions by vehicles that sleep at another site
    "resident_offset_m",  # distance between where anchored vehicles and visitors plug in
    "satellite_of",  # cluster within satellite_m whose vehicles do most charging here, or -1
    "satellite_share",  # share of sessions by vehicles that charge mostly at `satellite_of`
    "neighbour_sleeper_share",  # sessions by vehicles sleeping at a site nearby, with a night here
    "neighbour_sleeper_sites",  # how many sites nearby those vehicles sleep at
    "loyal_share",  # share of sessions by vehicles doing >= loyal_vehicle_share of all theirs here
    "loyal_vehicles",  # how many such vehicles
    "visitor_weekday_daytime_share",  # weekday_daytime_share of the visitors' sessions only
    "visitor_day_sessions",  # the sessions that share is over (neighbour sleepers' left out)
    "poor_fix_share",  # sessions reporting GPS accuracy worse than POOR_FIX_M / sessions
    "poor_known_fix_share",  # ...of the sessions reporting an accuracy at all (0 if none do)
    "coarse_known_fix_share",  # ...reporting worse than COARSE_FIX_M, of those reporting one
    "coarse_fixes",  # how many sessions report an accuracy worse than COARSE_FIX_M
    "no_accuracy_chance",  # chance its drivers all report no GPS accuracy, as here (1: some do)
    "local_sessions_per_day",  # all sessions plugged in within ~1 km (H3 res-8 ring) per day
    "shared_site_share",  # largest share of its vehicles that also charge at one same other site
    "employee_vehicles",  # vehicles with >= regular_min_sessions here, most on weekday mornings
)

#: what classify_sites adds from the sites around each one (after the per-site rules)
CONTEXT_COLUMNS: tuple[str, ...] = ("residential_odds", "area_one_time_share", "area_busy_share")

#: reason codes (stable strings: they appear in run reports and the review table)
REASONS: dict[str, str] = {
    "too_few_vehicles": "fewer distinct vehicles than the k-anonymity minimum",
    "dominant_vehicle": "one vehicle does most of the charging (a home)",
    "household": "the top vehicle, sleeping here, does a large share; the rest drop by (a home)",
    "home_at_k_floor": "exactly three drivers, one sleeping and mostly charging here (a home)",
    "overnight": "most sessions are overnight",
    "closed_regular_group": "a small group of regular vehicles does nearly all the charging",
    "weekday_daytime": "nearly all sessions start on weekday mornings and end the same day",
    "long_dwell": "the typical session lasts many hours",
    "resident_vehicles": "most sessions are by vehicles that regularly spend the night here",
    "satellite": "most charging is by vehicles that charge mostly at an excluded site nearby",
    "no_visitors": "no sign of public use yet: few users sleep elsewhere, the group is not open",
    "too_few_sessions": "too few sessions to tell what the site is (yet)",
    "poor_fixes": "most sessions report a poor GPS fix: spill-over from sites nearby, not a place",
    "residence_inside": "vehicles that sleep here plug in apart from the visitors: a home or "
    "garage merged with a charger next to it",
    "loyal_overnight": "vehicles that do nearly all their charging here do a large share of it, "
    "often overnight: a home that friends also use",
    "dominant_in_busy_area": "one vehicle, sleeping here, does a large share where many vehicles "
    "charge nearby: a public charger there is shared by many drivers (a home)",
    "loyal_in_busy_area": "one vehicle does a good share of a small site's sessions, and much of "
    "all its own charging there, where many vehicles charge nearby: its home, which friends visit",
    "thin_in_busy_area": "only a handful of sessions where many vehicles charge nearby: too "
    "little to tell a public charger from a home friends drop by",
    "strays_in_busy_area": "a few one-off plug-ins, many overnight, where thousands of "
    "sessions a day are plugged in nearby: stray GPS fixes of the homes around, not a charger "
    "(yet)",
    "blurred_in_busy_area": "a small site, many of its GPS fixes coarse, where thousands of "
    "sessions a day are plugged in nearby: the scatter of the homes around overlapping, not a "
    "charger (yet)",
    "thin_among_homes": "few sessions where residential sites far outnumber public ones nearby: "
    "more likely a home than a public charger",
    "home_beside_charger": "a vehicle that sleeps here, and does a good part of its charging "
    "here, does a good share of the sessions, next to a busier public charger: the home next "
    "door",
    "repeat_among_homes": "a quiet site whose users mostly come back, where residential sites "
    "far outnumber public ones nearby: a home shared with neighbours; a quiet public charger "
    "there draws mostly new drivers",
    "visited_among_homes": "a quiet site deep in a residential district, not nearly all of "
    "whose users are new: a home that friends visit; a public charger there draws almost only "
    "new drivers",
    "returning_where_public_is_new": "a small site whose users come back, where the public "
    "chargers of its size nearby draw almost only new drivers: a home that friends visit",
    "residents_in_busy_area": "vehicles that sleep here do most of the charging, much of it "
    "overnight, where many vehicles charge nearby: homes or a garage, not a public charger",
    "neighbour_sleepers": "vehicles that sleep at a site next door also spend nights here: a "
    "fragment of a garage or home split off by GPS error",
    "fringe_of_busier_site": "a handful of sessions, many with a poor GPS fix (or none "
    "reporting its accuracy, from more cars than chance gives), beside a much busier public "
    "site: its fringe, not a charger of its own",
    "halo_of_busier_site": "a few one-off plug-ins, some with a coarse GPS fix, a few hundred "
    "metres from a public site a hundred times as busy: its GPS outliers and the strays around "
    "it, not a charger (yet)",
    "at_k_floor": "used by few drivers, one of them sleeping here or doing much of its "
    "charging here, or all of them coming over many weeks (a home its friends visited?), and "
    "not in the registry: published when one more driver plugs in here (two more where one "
    "sleeps here and the top one is loyal)",
    "drivers_share_a_site": "a small site most of whose drivers also charge at one same other "
    "site, one of them coming back, where the public chargers of its size nearby draw almost "
    "only new drivers from all around: a home that its neighbours visit",
}

#: a fix reporting worse accuracy than this is "poor" (good telematics fixes: 3-10 m)
POOR_FIX_M = 15.0
#: ...and "coarse" worse than this (a public charger's own fixes: mostly within it)
COARSE_FIX_M = 10.0
#: the neighbourhood of local_sessions_per_day: the site's H3 res-8 cell and its ring
#: (about 1 km across; res-8 edge ~0.46 km)
LOCAL_RES = 8
LOCAL_RING = 1
_OVERNIGHT_MIN_H = 2.0
_LONG_DWELL_H = 6.0
_DAY_S = 86_400
_HOUR_S = 3_600


def site_features(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    sites: pd.DataFrame,
    params: ClassifyParams | None = None,
) -> pd.DataFrame:
    """Per-site behavioural features over the window.

    Parameters
    ----------
    sessions : pandas.DataFrame
        The window's sessions (``pipelines.schema.SESSIONS_SCHEMA`` columns; uses ``vehicle``,
        ``plug_in_utc``, ``plug_out_utc``, ``utc_offset_min``, ``energy_kwh``, ``max_power_kw``).
    labels : array_like of int64
        Cluster label per session row (``-1`` = noise), aligned with ``sessions``.
    sites : pandas.DataFrame
        One row per cluster with :data:`pipelines.schema.SITE_CORE_COLUMNS`.
    params : ClassifyParams, optional
        Only ``regular_min_sessions`` is used here (defaults to ``ClassifyParams()``).

    Returns
    -------
    pandas.DataFrame
        ``sites`` (same rows, same order) plus one column per name in :data:`FEATURE_COLUMNS`.
        Sites without any labelled session get zeros/NaN.
    """
    params = params or ClassifyParams()
    lab = np.asarray(labels, dtype=np.int64)
    if lab.shape[0] != len(sessions):
        raise ValueError(f"labels has {lab.shape[0]} rows, sessions {len(sessions)}")
    n_sites = int(max(sites["cluster"].max() + 1, 0)) if len(sites) else 0
    n_sites = max(n_sites, int(lab.max()) + 1 if lab.size else 0)
    used = lab >= 0
    cl = lab[used]
    s = sessions.loc[used]
    table = _session_table(s)
    codes = pd.factorize(sessions["vehicle"], sort=False)[0].astype(np.int64)
    vcode = codes[used]
    pairs = _pairs(cl, vcode, table["overnight"])
    totals = np.bincount(codes, minlength=int(codes.max(initial=-1)) + 1)
    feats = _aggregate(cl, table, vcode, pairs, n_sites, params.regular_min_sessions, totals)
    feats["loyal_share"], feats["loyal_vehicles"] = _loyal(
        cl, pairs, totals, n_sites, params.loyal_vehicle_share
    )
    feats["shared_site_share"] = _shared_site_share(pairs, n_sites)
    shifts = np.bincount(pairs.inverse, weights=table["weekday_daytime"], minlength=pairs.site.size)
    feats["employee_vehicles"] = np.bincount(
        pairs.site, weights=_works(pairs.sessions, shifts, params), minlength=n_sites
    ).astype(np.int64)
    anchors = _anchors(cl, pairs, sites, n_sites, params.satellite_m, params.neighbour_m)
    # visitors: vehicles sleeping elsewhere; a neighbour's nights here are its home's scatter
    vis = (anchors.role == 2) & ~(anchors.sleeper & params.workplace_skip_neighbour_sleepers)
    n_vis = np.bincount(cl, weights=vis, minlength=n_sites)
    feats["visitor_weekday_daytime_share"] = np.bincount(
        cl, weights=table["weekday_daytime"] & vis, minlength=n_sites
    ) / np.maximum(n_vis, 1)
    feats["visitor_day_sessions"] = n_vis.astype(np.int64)
    feats["resident_offset_m"] = _offset_m(
        cl, anchors.role, s["lat"].to_numpy(np.float64), s["lon"].to_numpy(np.float64), n_sites
    )
    feats["anchored_share"] = anchors.anchored
    feats["anchored_vehicles"] = anchors.anchored_vehicles.astype(np.int64)
    feats["visitor_share"] = anchors.visitors
    feats["satellite_of"] = anchors.satellite_of
    feats["satellite_share"] = anchors.satellite_share
    feats["neighbour_sleeper_share"] = anchors.neighbour_sleepers
    feats["neighbour_sleeper_sites"] = anchors.neighbour_sleeper_sites.astype(np.int64)
    feats["no_accuracy_chance"] = _no_accuracy_chance(
        sessions,
        codes,
        cl,
        table["known_fix"],
        np.bincount(pairs.site, minlength=n_sites),
        n_sites,
    )
    feats = feats.iloc[sites["cluster"].to_numpy(dtype=np.int64)].reset_index(drop=True)
    out = sites.reset_index(drop=True).copy()
    feats["local_sessions_per_day"] = _local_rate(sessions, out)
    for name in FEATURE_COLUMNS:
        out[name] = feats[name].to_numpy()
    return out


def session_roles(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    sites: pd.DataFrame,
    params: ClassifyParams | None = None,
) -> npt.NDArray[np.int8]:
    """Each session's vehicle's role at its site, as the features see it.

    ``1``: the vehicle sleeps here (its anchor, see ``anchored_share``); ``2``: it sleeps at
    another site (a visitor); ``0``: one session in the window, no anchor yet; ``-1``: the
    session is not in a site. Arguments as for :func:`site_features`.
    """
    params = params or ClassifyParams()
    lab = np.asarray(labels, dtype=np.int64)
    used = lab >= 0
    out = np.full(lab.shape[0], -1, dtype=np.int8)
    if not used.any():
        return out
    n_sites = max(int(sites["cluster"].max()) + 1 if len(sites) else 0, int(lab.max()) + 1)
    codes = pd.factorize(sessions["vehicle"], sort=False)[0].astype(np.int64)[used]
    pairs = _pairs(lab[used], codes, _session_table(sessions.loc[used])["overnight"])
    anchors = _anchors(lab[used], pairs, sites, n_sites, params.satellite_m, params.neighbour_m)
    out[used] = anchors.role
    return out


def employee_sessions(
    cl: npt.NDArray[np.int64],
    codes: npt.NDArray[np.int64],
    shift: npt.NDArray[np.bool_],
    params: ClassifyParams,
) -> npt.NDArray[np.bool_]:
    """Per session, whether its vehicle works at its site: >= ``regular_min_sessions``
    sessions there, >= ``workplace_weekday_day_share`` of them on weekday mornings (``shift``,
    :func:`weekday_daytime`). ``cl``: each session's site, ``codes``: its vehicle (ints).

    >>> cl, codes = np.zeros(6, dtype=np.int64), np.array([0, 0, 0, 0, 1, 1])
    >>> employee_sessions(cl, codes, np.ones(6, dtype=bool), ClassifyParams()).tolist()
    [True, True, True, True, False, False]
    >>> employee_sessions(cl[:0], codes[:0], np.ones(0, dtype=bool), ClassifyParams()).size
    0
    """
    if cl.size == 0:
        return np.zeros(0, dtype=bool)
    nv = int(codes.max()) + 1
    pair, inv, count = np.unique(cl * nv + codes, return_inverse=True, return_counts=True)
    shifts = np.bincount(inv.ravel(), weights=shift, minlength=pair.size)
    return _works(count, shifts, params)[inv.ravel()]


def _works(sessions: np.ndarray, shifts: np.ndarray, params: ClassifyParams) -> np.ndarray:
    """Per (site, vehicle) pair of ``sessions`` there, ``shifts`` of them on weekday mornings:
    whether the vehicle works at the site."""
    return (sessions >= params.regular_min_sessions) & (
        shifts >= params.workplace_weekday_day_share * sessions
    )


def weekday_daytime(sessions: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Whether each session starts on a weekday morning (local 06:00-11:59) and ends that day:
    a shift's pattern (``weekday_daytime_share`` is the site's share of them)."""
    return _session_table(sessions)["weekday_daytime"]


def classify_sites(features: pd.DataFrame, params: ClassifyParams) -> pd.DataFrame:
    """Class and reason codes per site, from explainable rules with configurable thresholds.

    Parameters
    ----------
    features : pandas.DataFrame
        Output of :func:`site_features`.
    params : ClassifyParams
        The thresholds.

    Returns
    -------
    pandas.DataFrame
        ``features`` plus ``residential_odds`` (residential sites per public site in the
        site's H3 res-8 ring, after the per-site rules), ``area_one_time_share`` (the 25th
        percentile one-time vehicle share of the small public sites nearest it, where
        ``returning_where_public_is_new`` or ``drivers_share_a_site`` was weighed; NaN
        elsewhere and with too few),
        ``area_busy_share`` (the share of busy public sites among its nearest, where that
        percentile fell short of the threshold but not of the lower busy-area one; NaN
        elsewhere),
        ``site_class`` (one of
        ``pipelines.schema.SITE_CLASSES``) and ``reasons`` (``;``-joined sorted codes from
        :data:`REASONS`; ``""`` for public sites). Only ``site_class == "public"`` is ever
        published.
    """
    f = features
    visitor_sessions = np.rint(f["visitor_share"] * f["sessions"])
    quiet_area = f["local_sessions_per_day"] < params.quiet_area_sessions_per_day
    quick = (f["dc_share"] >= params.quick_dc_share) & (
        f["dwell_median_h"] <= params.quick_max_dwell_h
    )
    few = f["vehicles"] < params.min_vehicles
    dominant = f["top_vehicle_share"] >= params.home_top_vehicle_share
    overnight = f["overnight_share"] >= params.overnight_share
    closed = (f["regulars_share"] >= params.regulars_share) & (
        (f["vehicles"] <= params.max_garage_vehicles)
        | (f["one_time_vehicle_share"] <= params.closed_max_one_time_share)
    )
    residents = (f["resident_share"] >= params.resident_share_strong) | (
        (f["resident_share"] >= params.resident_share)
        & (f["one_time_vehicle_share"] <= params.resident_max_one_time_share)
    )
    weekday = (f["weekday_daytime_share"] >= params.workplace_weekday_day_share) | (
        (f["visitor_weekday_daytime_share"] >= params.workplace_visitor_weekday_day_share)
        & (f["visitor_day_sessions"] >= params.workplace_visitor_min_sessions)
    )
    long_dwell = f["dwell_median_h"] >= params.long_dwell_h

    open_group = (f["span_days"] >= params.open_min_span_days) & (
        f["one_time_vehicle_share"] >= params.open_min_one_time_share
    )
    young = f["span_days"] < params.young_span_days
    homey = overnight & (f["dwell_median_h"] >= params.homey_dwell_h)
    need = np.maximum.reduce(
        [
            np.full(len(f), params.min_visitor_share),
            np.where(young, params.young_min_visitor_share, 0.0),
            np.where(homey, params.homey_min_visitor_share, 0.0),
        ]
    )
    daytime = ~young & (
        f["overnight_share"]
        <= np.where(
            quiet_area,
            params.quiet_daytime_max_overnight_share,
            params.daytime_max_overnight_share,
        )
    )
    # drivers without a home charger who share their local charger: several sleep here, not
    # loyal to it (they charge elsewhere too), mostly not overnight, outside busy areas. A loyal
    # vehicle that sleeps elsewhere makes the count smaller: the exemption errs towards excluding
    busy_area = f["local_sessions_per_day"] >= params.busy_area_sessions_per_day
    locals_ = (
        (f["anchored_vehicles"] - f["loyal_vehicles"] >= params.locals_min_vehicles)
        & (f["overnight_share"] < params.locals_max_overnight_share)
        & ~busy_area
    )
    no_visitors = (
        (f["visitor_share"] < need)
        & ~open_group
        & ~daytime
        & ~(
            locals_
            & (f["loyal_share"] < params.locals_max_loyal_share)
            & (visitor_sessions >= params.locals_min_visitor_sessions)
        )
    )

    # public evidence: many distinct vehicles, most of them seen here once
    open_use = f["one_time_vehicle_share"] >= params.crowd_one_time_share
    mixed = (
        ~(open_use & (f["vehicles"] >= params.mixed_crowd_min_vehicles))
        & (f["anchored_share"] >= params.mixed_anchored_share)
        & (f["resident_offset_m"].fillna(0.0) >= params.mixed_offset_m)
    )

    household = (
        (f["top_vehicle_share"] >= params.home_resident_top_share)
        & (f["resident_share"] >= params.home_resident_top_share)
        & (f["anchored_share"] >= params.home_resident_anchored_share)
        & (
            dominant
            | (
                (f["top_vehicle_overnight_share"] >= params.home_resident_top_overnight_share)
                & (f["top_vehicle_loyalty"] >= params.home_resident_min_loyalty)
            )
            | (f["top_vehicle_loyalty"] >= params.home_resident_top_loyalty)
        )
    )
    loyal = (
        ~(open_use & ((f["vehicles"] >= params.loyal_crowd_min_vehicles) | locals_))
        & (f["loyal_share"] >= params.home_loyal_share)
        & (f["loyal_vehicles"] <= params.home_max_loyal_vehicles)
        & (f["overnight_share"] >= params.home_loyal_overnight_share)
    )
    busy = (
        busy_area
        & (f["top_vehicle_share"] >= params.busy_area_top_share)
        & (f["anchored_share"] >= params.busy_area_anchored_share)
        # ...unless the area is only moderately busy and the top vehicle charges mostly
        # elsewhere: a local's favourite among several drivers', not its home
        & ~(
            (f["local_sessions_per_day"] < params.busy_favourite_max_sessions_per_day)
            & (f["vehicles"] >= params.favourite_min_vehicles)
            & (f["top_vehicle_loyalty"] < params.busy_favourite_max_loyalty)
        )
    )
    busy_loyal = (
        busy_area
        & (f["sessions"] <= params.busy_area_loyal_max_sessions)
        & (f["top_vehicle_share"] >= params.busy_area_loyal_top_share)
        & (f["top_vehicle_loyalty"] >= params.busy_area_loyal_loyalty)
    )
    busy_residents = (
        busy_area
        & (f["anchored_share"] >= params.busy_area_residents_share)
        & (f["overnight_share"] >= params.busy_area_residents_overnight_share)
    )
    shared = overnight & (closed | residents)  # a garage's pattern, which is loyal too
    # a local's favourite public charger: in a quiet area, five or more vehicles and a top
    # vehicle that does little of its charging here, or that leaves its car overnight on at
    # most half its visits to a site used mostly by day or not dominated by two cars. A
    # home's car charges and sleeps there; where it does not, a second car does; and where
    # one car dominates and sleeps there on most visits it is home, however much it charges
    # elsewhere
    sleeping_owner = dominant & (
        f["top_vehicle_overnight_share"] > params.favourite_max_top_overnight_share
    )
    quiet_group = quiet_area & (f["vehicles"] >= params.favourite_min_vehicles) & ~sleeping_owner
    by_day = (
        (f["overnight_share"] < params.favourite_max_overnight_share)
        | (f["top2_vehicle_share"] < params.favourite_max_top2_share)
    ) & (f["top_vehicle_overnight_share"] <= params.favourite_max_top_overnight_share)
    favourite = quiet_group & ((f["top_vehicle_loyalty"] < params.favourite_max_loyalty) | by_day)
    household = household & ~favourite
    one_car = dominant & (overnight | long_dwell) & ~favourite
    loyal = loyal & ~(quiet_group & by_day)
    # at the k-anonymity floor (below it: too_few_vehicles) a driver who sleeps and mostly
    # charges here makes it a home
    floor_home = (
        ~few
        & (f["vehicles"] <= params.floor_home_max_vehicles)
        & (f["anchored_share"] >= params.floor_home_anchored_share)
        & (f["top_vehicle_loyalty"] >= params.floor_home_loyalty)
    )
    home = ~quick & (one_car | household | (loyal & ~shared) | busy | busy_loyal | floor_home)
    garage = ~quick & ~home & (shared | mixed | busy_residents)
    # ...outside busy areas, drivers who mostly come once are commuters at a public charger
    # unless every session is a weekday shift
    commuters = (
        ~busy_area
        & (f["one_time_vehicle_share"] >= params.workplace_open_one_time_share)
        & (
            (f["weekday_daytime_share"] < params.workplace_all_weekday_share)
            | (f["dwell_p10_h"] < params.workplace_min_dwell_p10_h)
        )
    )
    # ...and a workplace's people come back: where no vehicle came for regular_min_sessions
    # shifts, none is loyal to the site and some drivers came once, long weekday-morning stays
    # are commuters at a public charger. Not amid a dense fleet, where a car park falls into
    # fragments in which each employee may show once
    unstaffed = (
        ~busy_area
        & (f["employee_vehicles"] < params.workplace_min_employees)
        & (f["loyal_vehicles"] == 0)
        & (f["one_time_vehicle_share"] >= params.workplace_unstaffed_one_time_share)
    )
    work = ~quick & ~home & ~garage & weekday & long_dwell & ~commuters & ~unstaffed
    # a closed group is private only while it keeps to itself: where >= private_open_min_vehicles
    # use the site and vehicles sleeping elsewhere do >= private_open_visitor_share of its
    # sessions, its regulars are locals at a public charger
    open_group_of_regulars = (f["vehicles"] >= params.private_open_min_vehicles) & (
        f["visitor_share"] >= params.private_open_visitor_share
    )
    private = ~quick & ~home & ~garage & ~work & closed & long_dwell & ~open_group_of_regulars
    quiet = quiet_area & (f["overnight_share"] <= params.quiet_max_overnight_share)
    thin = f["sessions"] < np.where(quiet, params.quiet_min_sessions, params.min_sessions)
    thin_busy = (f["local_sessions_per_day"] >= params.busy_area_thin_sessions_per_day) & (
        f["sessions"] < params.busy_area_min_sessions
    )
    strays = (
        ~quick
        & (f["local_sessions_per_day"] >= params.busy_area_strays_sessions_per_day)
        & (f["sessions"] < params.busy_area_strays_max_sessions)
        & (f["one_time_vehicle_share"] >= params.busy_area_strays_one_time_share)
        & (f["overnight_share"] >= params.busy_area_strays_overnight_share)
    )
    # ...and a small one there of imprecise fixes: the GPS scatter of the homes around
    blurred_busy = (
        ~quick
        & (f["local_sessions_per_day"] >= params.busy_area_strays_sessions_per_day)
        & (f["sessions"] < params.busy_area_blurred_max_sessions)
        & (f["coarse_known_fix_share"] >= params.busy_area_blurred_coarse_share)
        & (f["coarse_fixes"] >= params.busy_area_blurred_min_coarse_fixes)
    )
    blurred = f["poor_fix_share"] >= params.max_poor_fix_share
    unconfirmed = (
        ~home
        & ~garage
        & ~work
        & ~private
        & (thin | thin_busy | strays | blurred_busy | blurred | (~quick & no_visitors))
    )
    base = np.select(
        [home | garage, work, private, unconfirmed],
        ["residential", "workplace", "private", "unconfirmed"],
        default="public",
    )
    # satellites share the class of the excluded site their vehicles mostly charge at
    sat_of = f["satellite_of"].to_numpy(np.int64)
    labels = f["cluster"].to_numpy(np.int64)
    by_label = np.full(max(int(labels.max(initial=-1)), int(sat_of.max(initial=-1))) + 2, "public",
                       dtype=object)  # fmt: skip
    by_label[labels] = base
    anchor_class = by_label[sat_of]  # -1 reads the last slot: "public"
    # a fragment is public-looking so far and partly used overnight (the garage's evenings),
    # or made mostly of coarse fixes whatever its hours: the residence's own sessions placed
    # off it (a public charger beside a garage reports the fixes of its own spot)
    public_looking = ~quick.to_numpy() & np.isin(base, ["public", "unconfirmed"])
    fragment_like = public_looking & (
        f["overnight_share"].to_numpy() >= params.satellite_min_overnight_share
    )
    coarse_fragment = public_looking & (
        f["coarse_known_fix_share"].to_numpy() >= params.satellite_coarse_fix_share
    )
    # ...unless open to the public outside busy areas: many drivers, nearly all new here
    # (not a fragment of coarse fixes, however open)
    open_quiet = (
        ~busy_area.to_numpy()
        & (f["vehicles"].to_numpy() >= params.satellite_open_min_vehicles)
        & (f["one_time_vehicle_share"].to_numpy() >= params.satellite_open_one_time_share)
    )
    # ...or used by many, nearly all reporting fine fixes: a charger beside the residence
    fine_crowd = (f["vehicles"].to_numpy() >= params.satellite_fine_min_vehicles) & (
        f["coarse_known_fix_share"].to_numpy() < params.satellite_min_coarse_share
    )
    satellite = (
        (fragment_like | coarse_fragment)
        & (f["satellite_share"].to_numpy() >= params.satellite_share)
        & (anchor_class != "public")
        & (~open_quiet | coarse_fragment)
        & ~fine_crowd
    )
    # ...and so do fragments whose vehicles sleep at several sites nearby, partly overnight here
    fragment = (
        fragment_like
        & ~satellite
        & (f["neighbour_sleeper_share"].to_numpy() >= params.neighbour_sleeper_share)
        & (
            busy_area.to_numpy()
            | (f["sessions"].to_numpy() < params.neighbour_quiet_min_sessions)
            | (
                (f["neighbour_sleeper_sites"].to_numpy() >= params.neighbour_quiet_min_sites)
                & (f["vehicles"].to_numpy() <= params.neighbour_quiet_max_vehicles)
            )
        )
    )
    site_class = np.where(satellite, anchor_class, np.where(fragment, "residential", base))
    # the local prior: where residential sites far outnumber public ones, a thin site is a home
    odds, homes_near = _residential_odds(f, site_class)
    slow_public = ~quick.to_numpy() & (site_class == "public")
    among_homes = (
        slow_public
        & (odds >= params.among_homes_odds)
        & (f["sessions"].to_numpy() < params.among_homes_min_sessions)
    )
    # ...and so is a quiet one its users keep coming back to: a home the neighbours share
    repeat_among_homes = (
        slow_public
        & ~among_homes
        & (odds >= params.repeat_among_homes_odds)
        & (homes_near >= params.repeat_among_homes_min_homes)
        & (f["sessions"].to_numpy() < params.repeat_among_homes_max_sessions)
        & (f["one_time_vehicle_share"].to_numpy() < params.repeat_among_homes_one_time_share)
    )
    # ...and so is one deep in a residential district whose users are not nearly all new: a
    # home that friends visit (a public charger there draws almost only new drivers)
    visited_among_homes = (
        slow_public
        & ~among_homes
        & ~repeat_among_homes
        & (odds >= params.visited_among_homes_odds)
        & (f["sessions"].to_numpy() < params.visited_among_homes_max_sessions)
        & (f["one_time_vehicle_share"].to_numpy() < params.visited_among_homes_one_time_share)
    )
    # ...and, wherever public chargers of its size draw almost only new drivers, so is a small
    # one whose users come back: a home friends visit (a smaller fleet's favourites: not there)
    not_yet = slow_public & ~among_homes & ~repeat_among_homes & ~visited_among_homes
    weighed = (
        not_yet
        & (f["sessions"].to_numpy() < params.returning_max_sessions)
        & (f["one_time_vehicle_share"].to_numpy() < params.returning_max_one_time_share)
    )
    # ...and so is a small one most of whose drivers also charge at one same other site, one of
    # them coming back: a home its neighbours visit (a public charger's come from all around)
    shared = (
        not_yet
        & (f["sessions"].to_numpy() < params.shared_site_max_sessions)
        & (f["shared_site_share"].to_numpy() >= params.shared_site_min_share)
        & (f["one_time_vehicle_share"].to_numpy() < 1.0)
        & (f["top_vehicle_share"].to_numpy() >= params.shared_site_top_share)
    )
    returning, neighbours_visit, area_one_time, area_busy = _area_rules(
        f, site_class, weighed, shared, params
    )
    # ...weighed again against the public sites still standing: the homes just held back no
    # longer pull the norm down (a block of visited homes is its own neighbourhood's norm)
    for _ in range(params.area_norm_passes - 1):
        held = among_homes | repeat_among_homes | visited_among_homes | returning | neighbours_visit
        again = (weighed | shared) & ~held
        if not again.any():
            break
        more = _area_rules(
            f, np.where(held, "unconfirmed", site_class), weighed & again, shared & again, params
        )
        returning, neighbours_visit = returning | more[0], neighbours_visit | more[1]
        area_one_time = np.where(again, more[2], area_one_time)
        area_busy = np.where(again, more[3], area_busy)
    held_back = (
        among_homes | repeat_among_homes | visited_among_homes | returning | neighbours_visit
    )
    site_class = np.where(held_back, "unconfirmed", site_class)
    # a home next door to a busier charger: someone sleeps (and mostly charges) here and does a
    # good share, amid the charger's GPS spill-over and the household's friends
    beside = _beside_busier_public(
        f, site_class, params.beside_charger_m, params.beside_charger_ratio
    )
    home_beside = (
        ~quick.to_numpy()
        & beside
        & (f["local_sessions_per_day"].to_numpy() >= params.beside_charger_local_rate)
        & (f["top_vehicle_share"].to_numpy() >= params.beside_charger_top_share)
        & (f["top_vehicle_loyalty"].to_numpy() >= params.beside_charger_loyalty)
        & (f["anchored_share"].to_numpy() >= params.busy_area_anchored_share)
    )
    site_class = np.where(home_beside, "residential", site_class)
    # a handful of poor fixes beside a much busier public site: that site's fringe, which
    # would publish its station twice; or of fixes that report no accuracy, from more cars
    # than the fleet's share of such cars gives by chance (their poor fixes are not placed)
    fringe = (
        (site_class == "public")
        & (f["sessions"].to_numpy() < params.fringe_max_sessions)
        & (
            (f["poor_known_fix_share"].to_numpy() >= params.fringe_poor_fix_share)
            | (f["coarse_known_fix_share"].to_numpy() >= params.fringe_coarse_fix_share)
            | (f["no_accuracy_chance"].to_numpy() < params.fringe_no_accuracy_p)
        )
        & _beside_busier_public(f, site_class, params.fringe_m, params.fringe_ratio)
    )
    site_class = np.where(fringe, "unconfirmed", site_class)
    # a handful of one-off plug-ins, partly coarse fixes, a few hundred metres from a public
    # site a hundred times busier: that site's GPS outliers and the strays around it
    halo = (
        (site_class == "public")
        & (f["sessions"].to_numpy() < params.halo_max_sessions)
        & (f["one_time_vehicle_share"].to_numpy() >= params.halo_one_time_share)
        & (f["coarse_known_fix_share"].to_numpy() >= params.halo_coarse_fix_share)
        & _beside_busier_public(f, site_class, params.halo_m, params.halo_ratio)
    )
    site_class = np.where(halo, "unconfirmed", site_class)
    # at the k-anonymity floor a public-looking site where a car sleeps, or that its top car
    # is loyal to, waits for one more driver (or the registry): a home a few friends visited;
    # with both signs, for two more
    sleeps = f["anchored_vehicles"].to_numpy() > 0
    loyal_top = f["top_vehicle_loyalty"].to_numpy() >= params.floor_open_max_loyalty
    drivers = f["vehicles"].to_numpy()
    # ...and so does one whose few drivers trickled in over many weeks, lived-in or not
    slow = (params.floor_slow_span_days > 0) & (
        f["span_days"].to_numpy() > params.floor_slow_span_days
    )
    at_floor = (
        (site_class == "public")
        & ~quick.to_numpy()
        & (
            ((sleeps | loyal_top | slow) & (drivers < params.floor_min_discovered_vehicles))
            | (sleeps & loyal_top & (drivers < params.floor_both_signs_min_vehicles))
        )
    )
    site_class = np.where(at_floor, "unconfirmed", site_class)
    open_class = np.isin(site_class, ["public", "unconfirmed"])
    site_class = np.where(open_class & few.to_numpy(), "too_few_vehicles", site_class)
    flags = {
        "too_few_vehicles": few,
        "dominant_vehicle": home & dominant,
        "household": home & household,
        "home_at_k_floor": home & floor_home,
        "loyal_overnight": home & loyal,
        "dominant_in_busy_area": home & busy,
        "loyal_in_busy_area": home & busy_loyal & ~busy,
        "residents_in_busy_area": garage & busy_residents,
        "overnight": (home | garage) & overnight,
        "closed_regular_group": (garage | work | private) & closed,
        "no_visitors": unconfirmed & ~quick & no_visitors,
        "too_few_sessions": unconfirmed & thin,
        "thin_in_busy_area": unconfirmed & thin_busy & ~thin,
        "strays_in_busy_area": unconfirmed & strays & ~thin & ~thin_busy,
        "blurred_in_busy_area": unconfirmed & blurred_busy & ~thin & ~thin_busy & ~strays,
        "thin_among_homes": pd.Series(among_homes, index=f.index),
        "repeat_among_homes": pd.Series(repeat_among_homes, index=f.index),
        "visited_among_homes": pd.Series(visited_among_homes, index=f.index),
        "returning_where_public_is_new": pd.Series(returning, index=f.index),
        "home_beside_charger": pd.Series(home_beside, index=f.index),
        "fringe_of_busier_site": pd.Series(fringe, index=f.index),
        "halo_of_busier_site": pd.Series(halo, index=f.index),
        "at_k_floor": pd.Series(at_floor, index=f.index) & ~few,
        "drivers_share_a_site": pd.Series(neighbours_visit, index=f.index),
        "poor_fixes": unconfirmed & blurred,
        "resident_vehicles": garage & residents,
        "weekday_daytime": work,
        "long_dwell": (work | private | home) & long_dwell,
        "satellite": satellite,
        "residence_inside": (home | garage) & mixed,
        "neighbour_sleepers": pd.Series(fragment, index=f.index),
    }
    out = f.copy()
    out["residential_odds"] = odds
    out["area_one_time_share"] = area_one_time
    out["area_busy_share"] = area_busy
    out["site_class"] = site_class
    out["reasons"] = _join_reasons(flags, len(f))
    return out


def excluded_for_review(classified: pd.DataFrame, res: int = 8) -> pd.DataFrame:
    """The excluded sites for an analyst: coarse cell, class, reasons, features; no position.

    Parameters
    ----------
    classified : pandas.DataFrame
        Output of :func:`classify_sites`.
    res : int
        H3 resolution of the coarse cell that replaces the position (8: ~0.5 km edge).

    Returns
    -------
    pandas.DataFrame
        One row per non-public site, sorted by ``cell`` then ``cluster``: ``cell`` (hex str),
        ``site_class``, ``reasons``, then the counts, dates, power and feature columns. No
        ``lat``/``lon`` and nothing per vehicle.
    """
    ex = classified[classified["site_class"] != "public"]
    cells = latlng_to_cells(ex["lat"].to_numpy(), ex["lon"].to_numpy(), res)
    out = pd.DataFrame({"cell": cells_to_str(cells).astype(object)}, index=ex.index)
    keep = [c for c in SITE_CORE_COLUMNS if c not in ("lat", "lon")]
    out = pd.concat(
        [out, ex[["site_class", "reasons", *keep, *FEATURE_COLUMNS, *CONTEXT_COLUMNS]]], axis=1
    ).sort_values(["cell", "cluster"], kind="stable")
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _residential_odds(f: pd.DataFrame, site_class: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Residential sites per public site (itself included) in each site's H3 res-8 ring: the
    prior odds that a site there is a home. They grow with the share of the fleet we see (its
    homes all show, the public chargers were there anyway): 0-3 at the 90th percentile of public
    sites in simulated 400- and 3,000-vehicle fleets, ~20 at the median in dense 60k ones.
    Returns ``(odds, residential sites in the ring)``."""
    if len(f) == 0:
        return np.zeros(0), np.zeros(0)
    cells = latlng_to_cells(f["lat"].to_numpy(np.float64), f["lon"].to_numpy(np.float64), LOCAL_RES)
    n_res = count_in_disks(cells[site_class == "residential"], cells, LOCAL_RING)
    n_pub = count_in_disks(cells[site_class == "public"], cells, LOCAL_RING)
    return n_res / np.maximum(n_pub, 1.0), n_res


def _area_rules(
    f: pd.DataFrame,
    site_class: np.ndarray,
    weighed: np.ndarray,
    shared: np.ndarray,
    params: ClassifyParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``returning_where_public_is_new`` and ``drivers_share_a_site`` for their candidates
    (``weighed``, ``shared``) against the public sites of ``site_class``: the two flags, then
    ``area_one_time_share`` and ``area_busy_share`` (NaN where not weighed)."""
    area_one_time = _area_one_time_share(f, site_class, weighed | shared, params)
    # ...and a little lower where most public chargers around are busy: a dense fleet's city
    lower = (
        weighed
        & (area_one_time >= params.returning_busy_area_one_time_share)
        & (area_one_time < params.returning_area_one_time_share)
    )
    area_busy = _area_busy_share(f, site_class, lower, params)
    returning = weighed & (
        (area_one_time >= params.returning_area_one_time_share)
        | (lower & (area_busy >= params.returning_busy_share))
    )
    visit = shared & ~returning & (area_one_time >= params.returning_area_one_time_share)
    return returning, visit, area_one_time, area_busy


def _area_one_time_share(
    f: pd.DataFrame, site_class: np.ndarray, at: np.ndarray, params: ClassifyParams
) -> np.ndarray:
    """What is normal for a small public charger around each site where ``at``: the 25th
    percentile of the one-time vehicle share over the ``returning_neighbours`` nearest public
    sites with ``returning_ref_min_sessions`` to ``returning_ref_max_sessions`` sessions (over
    all of them where there are fewer, NaN with fewer than ``returning_min_neighbours``, and
    where not ``at``: the k-nearest query for every site cost 0.4 s
    a classification at 100k vehicles). Near 1 where public chargers draw almost only new
    drivers (a dense fleet's city: simulated 60k fleets ~0.9); ~0.3-0.6 where their few local
    users come back."""
    ref = (
        (site_class == "public")
        & (f["sessions"].to_numpy() >= params.returning_ref_min_sessions)
        & (f["sessions"].to_numpy() < params.returning_ref_max_sessions)
    )
    lat, lon = f["lat"].to_numpy(np.float64), f["lon"].to_numpy(np.float64)
    out = np.full(len(f), np.nan)
    k = min(params.returning_neighbours, int(ref.sum()))
    if k < max(params.returning_min_neighbours, 1):
        return out
    out[at] = nearest_quantile(
        lat[at], lon[at], lat[ref], lon[ref],
        f["one_time_vehicle_share"].to_numpy(np.float64)[ref], k, 0.25,
    )  # fmt: skip
    return out


def _area_busy_share(
    f: pd.DataFrame, site_class: np.ndarray, at: np.ndarray, params: ClassifyParams
) -> np.ndarray:
    """Where ``at``: the share of the ``returning_neighbours`` nearest public sites with at
    least ``returning_ref_max_sessions`` sessions (NaN elsewhere and with too few). A dense
    fleet's real chargers are busy (simulated 60k fleets: ~0.8 of the public sites published),
    a smaller fleet's mostly quiet (3,000 vehicles: ~0.26)."""
    pub = site_class == "public"
    lat, lon = f["lat"].to_numpy(np.float64), f["lon"].to_numpy(np.float64)
    out = np.full(len(f), np.nan)
    busy = f["sessions"].to_numpy()[pub] >= params.returning_ref_max_sessions
    out[at] = nearest_mean(
        lat[at], lon[at], lat[pub], lon[pub], busy.astype(np.float64), params.returning_neighbours
    )
    return out


def _beside_busier_public(
    f: pd.DataFrame, site_class: np.ndarray, within_m: float, ratio: float
) -> np.ndarray:
    """Public sites with a public site within ``within_m`` that has at least ``ratio`` times
    their sessions."""
    pub = site_class == "public"
    out = np.zeros(len(f), dtype=bool)
    out[pub] = heavier_neighbour(
        f["lat"].to_numpy(np.float64)[pub],
        f["lon"].to_numpy(np.float64)[pub],
        f["sessions"].to_numpy(np.float64)[pub],
        within_m,
        ratio,
    )
    return out


def _local_rate(sessions: pd.DataFrame, sites: pd.DataFrame) -> np.ndarray:
    """Sessions per day (all of them, noise too) plugged in near each site: the local demand
    a public charger there would share in. Days = distinct UTC plug-in days of the window.
    The lake's stored res-13 cells give their res-8 parents by bit operations; sessions
    without a cell (0: built by hand, as in unit tests) are indexed from their position."""
    if len(sites) == 0 or len(sessions) == 0:
        return np.zeros(len(sites))
    cells = sessions["cell"].to_numpy(np.uint64)
    known = cells != 0
    pts = np.empty(len(cells), dtype=np.uint64)
    pts[known] = cell_to_parent(cells[known], LOCAL_RES)
    pts[~known] = latlng_to_cells(
        sessions["lat"].to_numpy(np.float64)[~known],
        sessions["lon"].to_numpy(np.float64)[~known],
        LOCAL_RES,
    )
    q = latlng_to_cells(
        sites["lat"].to_numpy(np.float64), sites["lon"].to_numpy(np.float64), LOCAL_RES
    )
    days = np.unique(_seconds(sessions["plug_in_utc"]) // _DAY_S).size
    return count_in_disks(pts, q, LOCAL_RING) / max(days, 1)


def _seconds(ts: pd.Series) -> npt.NDArray[np.int64]:
    """Whole seconds since the epoch of a tz-aware timestamp column (any unit)."""
    return ((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


def _session_table(s: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-session derived values: local time, dwell, flags."""
    off = s["utc_offset_min"].to_numpy(np.int64) * 60
    t_in = _seconds(s["plug_in_utc"]) + off
    t_out = np.maximum(_seconds(s["plug_out_utc"]) + off, t_in)
    dwell_h = (t_out - t_in) / _HOUR_S
    hour = (t_in // _HOUR_S) % 24
    local_day = t_in // _DAY_S
    weekday = (local_day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    next_3am = ((t_in - 3 * _HOUR_S) // _DAY_S + 1) * _DAY_S + 3 * _HOUR_S
    evening_start = (hour >= 16) | (hour < 4)
    overnight = (t_out >= next_3am) | (evening_start & (dwell_h >= _OVERNIGHT_MIN_H))
    same_day = (t_out // _DAY_S) == local_day
    power = s["max_power_kw"].to_numpy(np.float64)
    accuracy = _accuracy_m(s)
    return {
        "dwell_h": dwell_h,
        "hour": hour,
        "local_day": local_day,
        "overnight": overnight,
        "evening": hour >= 16,
        "weekday_daytime": (weekday < 5) & (hour >= 6) & (hour < 12) & same_day,
        "weekend": weekday >= 5,
        "long_dwell": dwell_h >= _LONG_DWELL_H,
        "dc": np.nan_to_num(power, nan=0.0) >= DC_POWER_KW,
        "energy": s["energy_kwh"].to_numpy(np.float64),
        "poor_fix": np.nan_to_num(accuracy, nan=0.0) > POOR_FIX_M,  # unknown: not poor
        "coarse_fix": np.nan_to_num(accuracy, nan=0.0) > COARSE_FIX_M,
        "known_fix": ~np.isnan(accuracy),
    }


def _no_accuracy_chance(
    sessions: pd.DataFrame,
    codes: np.ndarray,
    cl: np.ndarray,
    known_fix: np.ndarray,
    vehicles: np.ndarray,
    k: int,
) -> np.ndarray:
    """Per site, 1 where any of its sessions reports a GPS accuracy; else the chance that its
    ``vehicles`` drivers, drawn from the window's, all report none: ``u ** vehicles``, ``u``
    the window's share of vehicles none of whose sessions reports an accuracy (some telematics
    back ends never do). A poor fix that reports its accuracy is placed at its likeliest site
    (``pipelines.sites.place_poor_fixes``); one that reports none is not, so a busy site's poor
    fixes from such cars can gather into a site of their own."""
    ok = codes >= 0
    reports = ~np.isnan(_accuracy_m(sessions))
    known = np.bincount(codes[ok], weights=reports[ok], minlength=1) > 0
    blind = 1.0 - known.mean() if ok.any() else 1.0
    any_known = np.bincount(cl, weights=known_fix, minlength=k) > 0
    return np.where(any_known, 1.0, blind ** np.maximum(vehicles, 0.0))


def _accuracy_m(s: pd.DataFrame) -> np.ndarray:
    """Reported GPS accuracy per session, NaN where unknown (or the column is absent)."""
    if "gps_accuracy_m" not in s:
        return np.full(len(s), np.nan)
    return s["gps_accuracy_m"].to_numpy(np.float64, na_value=np.nan)


class _Pairs(NamedTuple):
    """The window's (site, vehicle) pairs, sorted by site then vehicle code."""

    site: np.ndarray  # per pair
    vehicle: np.ndarray  # per pair
    inverse: np.ndarray  # per session: its pair
    sessions: np.ndarray  # per pair: session count
    nights: np.ndarray  # per pair: overnight session count
    n_vehicles: int


def _pairs(cl: np.ndarray, vcode: np.ndarray, overnight: np.ndarray) -> _Pairs:
    """One sort of the labelled sessions into (site, vehicle) pairs, shared by the features."""
    nv = int(vcode.max(initial=-1)) + 1 or 1
    pair, inv, cnt = np.unique(cl * nv + vcode, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    nights = np.bincount(inv, weights=overnight, minlength=cnt.size)
    return _Pairs(pair // nv, pair % nv, inv, cnt, nights, nv)


def _aggregate(
    cl: np.ndarray,
    t: dict[str, np.ndarray],
    vcode: np.ndarray,
    pairs: _Pairs,
    k: int,
    regular_min: int,
    totals: np.ndarray,
) -> pd.DataFrame:
    """All features for ``k`` clusters from labelled sessions, with bincounts and sorts."""
    n = np.bincount(cl, minlength=k).astype(np.float64)
    safe = np.maximum(n, 1.0)

    def share(flag: np.ndarray) -> np.ndarray:
        return np.bincount(cl, weights=flag.astype(np.float64), minlength=k) / safe

    # per (cluster, vehicle) session counts
    nv, pcl, cnt = pairs.n_vehicles, pairs.site, pairs.sessions
    nights = pairs.nights
    resident = nights >= 2
    order = np.lexsort((-cnt, pcl))  # per cluster, most sessions first
    pcl_o, cnt_o = pcl[order], cnt[order]
    first = np.r_[True, pcl_o[1:] != pcl_o[:-1]][: pcl_o.size]
    second = np.r_[False, first[:-1]] & ~first
    top1 = np.zeros(k)
    top1[pcl_o[first]] = cnt_o[first]
    top = order[first]  # per cluster with sessions: its top (site, vehicle) pair
    top_nights = np.zeros(k)
    top_nights[pcl[top]] = nights[top]
    top_total = np.ones(k)
    top_total[pcl[top]] = totals[pairs.vehicle[top]]
    top2 = top1.copy()
    np.add.at(top2, pcl_o[second], cnt_o[second])
    regular = cnt >= regular_min
    n_veh = np.maximum(np.bincount(pcl, minlength=k), 1)

    # per (cluster, local day) distinct vehicles
    day = t["local_day"]
    d0 = int(day.min()) if day.size else 0
    nd = int(day.max() - d0 + 1) if day.size else 1
    triple = _distinct((cl * nd + (day - d0)) * nv + vcode)
    cd, cd_veh = np.unique(triple // nv, return_counts=True)
    max_daily = np.zeros(k)
    np.maximum.at(max_daily, cd // nd, cd_veh)
    active = np.bincount(cd // nd, minlength=k)
    first_day = np.full(k, np.iinfo(np.int64).max)
    last_day = np.full(k, np.iinfo(np.int64).min)
    np.minimum.at(first_day, cl, day)
    np.maximum.at(last_day, cl, day)

    # peak start hour: argmax of a (cluster, hour) histogram; argmax takes the lowest hour on ties
    hours = np.bincount(cl * 24 + t["hour"], minlength=k * 24).reshape(k, 24)

    q = _group_quantiles(cl, t["dwell_h"], k, (0.1, 0.5, 0.9))
    energy_med = _group_quantiles(cl, t["energy"], k, (0.5,))[0]
    known = np.maximum(np.bincount(cl, weights=t["known_fix"], minlength=k), 1.0)
    has = n > 0
    return pd.DataFrame(
        {
            "top_vehicle_share": top1 / safe,
            "top2_vehicle_share": top2 / safe,
            "top_vehicle_overnight_share": top_nights / np.maximum(top1, 1.0),
            "top_vehicle_loyalty": top1 / top_total,
            "regular_vehicles": np.bincount(pcl, weights=regular, minlength=k).astype(np.int64),
            "regulars_share": np.bincount(pcl, weights=cnt * regular, minlength=k) / safe,
            "one_time_vehicle_share": np.bincount(pcl, weights=cnt == 1, minlength=k) / n_veh,
            "sessions_per_vehicle": n / n_veh,
            "overnight_share": share(t["overnight"]),
            "evening_share": share(t["evening"]),
            "weekday_daytime_share": share(t["weekday_daytime"]),
            "weekend_share": share(t["weekend"]),
            "peak_hour": np.where(has, hours.argmax(axis=1), -1).astype(np.int64),
            "dwell_median_h": q[1],
            "dwell_p10_h": q[0],
            "dwell_p90_h": q[2],
            "long_dwell_share": share(t["long_dwell"]),
            "dc_share": share(t["dc"]),
            "poor_fix_share": share(t["poor_fix"]),
            "poor_known_fix_share": np.bincount(cl, weights=t["poor_fix"], minlength=k) / known,
            "coarse_known_fix_share": np.bincount(cl, weights=t["coarse_fix"], minlength=k) / known,
            "coarse_fixes": np.bincount(cl, weights=t["coarse_fix"], minlength=k).astype(np.int64),
            "energy_median_kwh": energy_med,
            "active_days": active.astype(np.int64),
            "span_days": np.where(has, last_day - first_day + 1, 0).astype(np.int64),
            "max_daily_vehicles": max_daily.astype(np.int64),
            "resident_share": np.bincount(pcl, weights=cnt * resident, minlength=k) / safe,
        }
    )


class _Anchors(NamedTuple):
    """Per site (``satellite_of`` ... ``neighbour_sleepers``) and per session (``role``)."""

    satellite_of: np.ndarray
    satellite_share: np.ndarray
    anchored: np.ndarray
    anchored_vehicles: np.ndarray
    visitors: np.ndarray
    neighbour_sleepers: np.ndarray
    neighbour_sleeper_sites: np.ndarray
    role: np.ndarray
    sleeper: np.ndarray


def _anchors(
    cl: np.ndarray,
    pairs: _Pairs,
    sites: pd.DataFrame,
    k: int,
    radius_m: float,
    neighbour_m: float,
) -> _Anchors:
    """Where each site's vehicles sleep: anchored share, and the nearby site it is a satellite of.

    Every vehicle has an *anchor*: the site where it has the most overnight sessions, then the
    most sessions, then the lowest label — where it "sleeps". Per site this gives:

    * ``anchored`` / ``visitors``: the share of its sessions by vehicles anchored here /
      elsewhere (a garage's residents are anchored at the garage; most of a public charger's
      users sleep elsewhere). A vehicle with a single session in the window has no anchor yet
      and counts in neither;
    * ``satellite_of`` / ``satellite_share``: the other site within ``radius_m`` at which the
      vehicles doing most of this site's charging are anchored, and their share of its sessions
      (``-1``/0 when none). Garage fragments split off by poor GPS in a car park are typical;
    * ``neighbour_sleepers``: the share of its sessions by vehicles anchored at *any* other site
      within ``neighbour_m`` that also spent a night here. A fragment of a garage whose
      residents sleep at several fragments nearby has many; a public charger, whose neighbours
      rarely stay the night, few; ``neighbour_sleeper_sites``: how many different sites
      those vehicles sleep at;
    * per session, its vehicle's role here: 1 anchored, 2 visitor, 0 no anchor yet, and
      whether that vehicle is one of the neighbour sleepers (``sleeper``).
    """
    if cl.size == 0:
        z = [np.zeros(k) for _ in range(6)]
        return _Anchors(np.full(k, -1, dtype=np.int64), *z, np.zeros(0, np.int8), np.zeros(0, bool))
    nv, pcl, pveh, inv, cnt = (
        pairs.n_vehicles, pairs.site, pairs.vehicle, pairs.inverse, pairs.sessions,
    )  # fmt: skip
    nights = pairs.nights
    n_max = int(cnt.max()) + 1
    rank = ((n_max - nights.astype(np.int64)) * n_max + (n_max - cnt)) * k + pcl
    order = _group_order(pveh, rank)  # per vehicle: most nights, most sessions, lowest label
    first = np.r_[True, pveh[order][1:] != pveh[order][:-1]]
    anchor = np.empty(nv, dtype=np.int64)
    anchor[pveh[order][first]] = pcl[order][first]
    a = anchor[pveh]
    n = np.maximum(np.bincount(cl, minlength=k), 1)
    known = np.bincount(pveh, weights=cnt, minlength=nv)[pveh] >= 2  # one session: no anchor
    home_here = known & (a == pcl)
    anchored = np.bincount(pcl, weights=cnt * home_here, minlength=k) / n
    anchored_vehicles = np.bincount(pcl, weights=home_here, minlength=k)
    visitors = np.bincount(pcl, weights=cnt * (known & (a != pcl)), minlength=k) / n
    role = np.where(known, np.where(a == pcl, 1, 2), 0).astype(np.int8)[inv.ravel()]
    lat = np.full(k, np.nan)
    lon = np.full(k, np.nan)
    idx = sites["cluster"].to_numpy(np.int64)
    lat[idx], lon[idx] = sites["lat"].to_numpy(np.float64), sites["lon"].to_numpy(np.float64)
    away = np.where(a != pcl, haversine_m(lat[pcl], lon[pcl], lat[a], lon[a]), np.inf)
    sleepers = known & (away <= neighbour_m) & (nights > 0)
    neighbour_sleepers = np.bincount(pcl, weights=cnt * sleepers, minlength=k) / n
    sleeper_sites = np.unique(pcl[sleepers] * k + a[sleepers]) // k
    neighbour_sleeper_sites = np.bincount(sleeper_sites, minlength=k)
    sat_of, share = _satellites(pcl, a, cnt, away <= radius_m, n, k)
    return _Anchors(
        sat_of, share, anchored, anchored_vehicles, visitors, neighbour_sleepers,
        neighbour_sleeper_sites, role, sleepers[inv.ravel()],
    )  # fmt: skip


def _satellites(
    pcl: np.ndarray, a: np.ndarray, cnt: np.ndarray, near: np.ndarray, n: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per site, the nearby anchor site with the most sessions here (``near`` pairs only) and
    those sessions' share (``-1``/0 when none)."""
    sat_of = np.full(k, -1, dtype=np.int64)
    share = np.zeros(k)
    if not near.any():
        return sat_of, share
    key, kinv = np.unique(pcl[near] * k + a[near], return_inverse=True)
    total = np.bincount(kinv.ravel(), weights=cnt[near])
    kc, ka = key // k, key % k
    best = np.lexsort((ka, -total, kc))
    top = np.r_[True, kc[best][1:] != kc[best][:-1]]
    sat_of[kc[best][top]] = ka[best][top]
    share[kc[best][top]] = total[best][top] / n[kc[best][top]]
    return sat_of, share


def _loyal(
    cl: np.ndarray, pairs: _Pairs, totals: np.ndarray, k: int, min_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per site, the share of its sessions by *loyal* vehicles (>= 2 sessions here, and at least
    ``min_share`` of all their sessions in the window, noise included, here) and their number.
    A home's household charges almost only at home; a driver without a home charger spreads
    their sessions over several public chargers."""
    if cl.size == 0:
        return np.zeros(k), np.zeros(k, dtype=np.int64)
    pcl, pveh, cnt = pairs.site, pairs.vehicle, pairs.sessions
    loyal = (cnt >= 2) & (cnt >= min_share * totals[pveh])
    share = np.bincount(pcl, weights=cnt * loyal, minlength=k) / np.maximum(
        np.bincount(cl, minlength=k), 1
    )
    return share, np.bincount(pcl, weights=loyal, minlength=k).astype(np.int64)


def _shared_site_share(pairs: _Pairs, k: int) -> np.ndarray:
    """Per site, the largest share of its vehicles that also charge at one same other site (0
    where none charges elsewhere). Neighbours who visit a home all charge at the same local
    chargers; a public charger's drivers come from all around. One sparse product of the
    (site, vehicle) incidence matrix with itself: vehicles * (their sites)^2 entries."""
    if pairs.site.size == 0:
        return np.zeros(k)
    inc = sparse.csr_matrix(
        (np.ones(pairs.site.size), (pairs.site, pairs.vehicle)), shape=(k, pairs.n_vehicles)
    )
    both = (inc @ inc.T).tocoo()
    other = both.row != both.col
    shared = sparse.csr_matrix((both.data[other], (both.row[other], both.col[other])), shape=(k, k))
    best = shared.max(axis=1).toarray().ravel()
    return best / np.maximum(np.bincount(pairs.site, minlength=k), 1)


def _offset_m(
    cl: np.ndarray, role: np.ndarray, lat: np.ndarray, lon: np.ndarray, k: int
) -> np.ndarray:
    """Per site, metres between the mean plug-in position of anchored vehicles' sessions and that
    of visitors' sessions (NaN when either is missing). A home merged with the public charger
    next to it has its residents 30-80 m from the visitors; a plain site, a few metres."""
    out = np.full(k, np.nan)
    if cl.size == 0:
        return out
    xyz = unit_vectors(lat, lon)
    sums = [
        np.stack(
            [np.bincount(cl, weights=xyz[:, i] * (role == r), minlength=k) for i in range(3)], 1
        )
        for r in (1, 2)
    ]
    ok = (np.linalg.norm(sums[0], axis=1) > 0) & (np.linalg.norm(sums[1], axis=1) > 0)
    la, lo = unit_vectors_to_latlng(sums[0][ok])
    lb, lob = unit_vectors_to_latlng(sums[1][ok])
    out[ok] = haversine_m(la, lo, lb, lob)
    return out


def _group_order(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Permutation sorting by ``groups`` then ``values`` (like ``np.lexsort((values, groups))``,
    which is several times slower): one sort of the values, then a stable sort of the groups."""
    by_value = np.argsort(values, kind="stable")
    return by_value[np.argsort(groups[by_value], kind="stable")]


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort, not numpy 2's hash-based ``unique``: faster here)."""
    k = np.sort(keys)
    return k[np.r_[True, k[1:] != k[:-1]]] if k.size else k


def _group_quantiles(
    groups: np.ndarray, values: np.ndarray, k: int, qs: tuple[float, ...]
) -> list[np.ndarray]:
    """Per-group quantiles (linear interpolation, NaN ignored; NaN for empty groups)."""
    ok = ~np.isnan(values)
    g, v = groups[ok], values[ok]
    order = _group_order(g, v)
    g, v = g[order], v[order]
    counts = np.bincount(g, minlength=k)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out = []
    for q in qs:
        pos = starts + q * np.maximum(counts - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        val = np.full(k, np.nan)
        has = counts > 0
        frac = pos - lo
        val[has] = v[lo[has]] * (1 - frac[has]) + v[hi[has]] * frac[has]
        out.append(val)
    return out


def _join_reasons(flags: dict[str, pd.Series], n: int) -> np.ndarray:
    """``;``-joined sorted reason codes per row, from boolean columns."""
    out = np.full(n, "", dtype=object)
    for code in sorted(flags):
        hit = np.asarray(flags[code], dtype=bool)
        sep = np.where(out[hit] == "", "", ";")
        out[hit] = out[hit] + sep + code
    return out
