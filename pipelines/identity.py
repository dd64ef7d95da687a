"""Stable site identity and lifecycle: ``site_id`` and ``status`` from one run to the next.

Clustering labels change every day; a published site must not. Each run matches today's public
sites to the previous run's history (one to one, nearest first, within ``LifecycleParams.match_m``)
and inherits their ids; unmatched sites get a new deterministic id from the H3 res-12 cell of their
centroid (``cp-8c2a100d2c6d9ff``, with ``-1``, ``-2``… when the cell's id is already taken).

Status (contract §3):

* ``new`` — the first run that publishes the site;
* ``active`` — published before and still in use;
* ``stale`` — no session for a while although it used to have them. "A while" adapts to the
  site's own visit rate: a site visited ``r`` times a day is stale after ``T`` quiet days with
  ``exp(-r T) < stale_p`` (a busy site's silence is news sooner), clipped to
  ``[min_stale_days, stale_days]``; cars upload late, so ``r T`` counts only the sessions
  that could have landed by the run day (:func:`landed_share`); or whose use collapsed: fewer than
  ``stale_collapse_share`` of the sessions its earlier rate would give in the last
  ``stale_days`` (:func:`recent_use`), too few for chance (Poisson tail below
  ``stale_collapse_p``): a closed charger beside open ones, which keeps catching their stray
  fixes; or whose *occasional* use (vehicles with fewer than
  ``regular_min_sessions`` sessions there, :func:`recent_use`) collapsed the same way, or
  stopped: none for ``max(stale_days, ln(1/stale_occasional_p) / rate)`` days. A closed
  charger whose cluster also holds a home or garage a few tens of metres away keeps that
  household's nightly sessions, so only its passing drivers tell that it closed;
* retired — quiet for ``retire_days``: dropped from the output and the history.

A site of the history that is not among today's public sites is dropped at once: with the
window at least as long as ``retire_days`` a quiet site stays in the clustering until it is
retired, so one that vanished was reclassified or merged into a neighbour, and nothing excluded
may stay published. With ``carry_vanished`` (for shorter windows) it is carried with its last
known values while it is stale and not yet retired.

The history is stored per run day at ``<lake>/state/sites/<day>.parquet``; a run reads the latest
one strictly before its day, so re-running a day reads the same state and gives the same ids.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import pdtr

from geo.h3cells import cells_to_str, latlng_to_cells
from geo.matching import match_nearest
from pipelines.config import LifecycleParams
from pipelines.lake import write_table
from pipelines.schema import SITE_CORE_COLUMNS

__all__ = [
    "HISTORY_COLUMNS",
    "ID_RES",
    "assign_identity",
    "history_path",
    "landed_share",
    "read_history",
    "recent_use",
    "write_history",
]

#: H3 resolution of the cell a new site's id is made from (~9 m edge)
ID_RES: int = 12

#: columns of the stored history (one row per site published in that run)
HISTORY_COLUMNS: tuple[str, ...] = (
    "site_id",
    "status",
    "first_published",  # YYYY-MM-DD of the run that first published the site
    *SITE_CORE_COLUMNS,
)

_HISTORY_SCHEMA = pa.schema(
    [
        ("site_id", pa.string()),
        ("status", pa.string()),
        ("first_published", pa.string()),
        ("cluster", pa.int64()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("sessions", pa.int64()),
        ("vehicles", pa.int64()),
        ("first_seen", pa.string()),
        ("last_seen", pa.string()),
        ("power_class", pa.string()),
        ("max_power_kw", pa.float64()),
    ]
)


def history_path(lake: str | os.PathLike[str], day: str) -> Path:
    """Where the history written by the run of ``day`` lives."""
    return Path(lake) / "state" / "sites" / f"{day}.parquet"


def read_history(lake: str | os.PathLike[str], day: str) -> pd.DataFrame | None:
    """Site history as of the last run strictly before ``day`` (``None`` if there is none).

    Parameters
    ----------
    lake : path
        The lake root.
    day : str
        The run day, ``YYYY-MM-DD``.

    Returns
    -------
    pandas.DataFrame or None
        :data:`HISTORY_COLUMNS`, sorted by ``site_id``.
    """
    folder = Path(lake) / "state" / "sites"
    if not folder.is_dir():
        return None
    days = sorted(p.stem for p in folder.glob("*.parquet") if len(p.stem) == 10 and p.stem < day)
    if not days:
        return None
    table = pq.read_table(folder / f"{days[-1]}.parquet")
    return table.to_pandas().sort_values("site_id", kind="stable").reset_index(drop=True)


def write_history(lake: str | os.PathLike[str], day: str, history: pd.DataFrame) -> Path:
    """Store the history produced by the run of ``day`` (atomically; replaces a rerun's)."""
    path = history_path(lake, day)
    frame = history.loc[:, list(HISTORY_COLUMNS)].sort_values("site_id", kind="stable")
    table = pa.Table.from_pandas(frame, schema=_HISTORY_SCHEMA, preserve_index=False)
    write_table(table.replace_schema_metadata(None), path)
    return path


def assign_identity(
    public_sites: pd.DataFrame,
    history: pd.DataFrame | None,
    day: str,
    params: LifecycleParams,
    landed: npt.ArrayLike | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give today's public sites stable ids and a status, and roll the history forward.

    Parameters
    ----------
    public_sites : pandas.DataFrame
        Today's public sites with :data:`pipelines.schema.SITE_CORE_COLUMNS` (extra columns are
        kept).
    history : pandas.DataFrame or None
        :func:`read_history` of the previous run (``None`` on the first run).
    day : str
        The run day, ``YYYY-MM-DD``.
    params : LifecycleParams
        ``match_m``, ``stale_days``, ``min_stale_days``, ``stale_p``, ``retire_days``,
        ``carry_vanished``.
    landed : array_like of float, optional
        :func:`landed_share`: the share of a day's sessions landed ``k`` days later. A busy
        site's quiet days count only the sessions that could have landed by ``day`` (``None``:
        all at once).

    Returns
    -------
    published : pandas.DataFrame
        One row per site to publish today: ``site_id``, ``status`` and the columns of
        ``public_sites``; stale sites carried from the history (``carry_vanished``) hold their
        last known values (``cluster`` -1). Sorted by ``site_id``.
    new_history : pandas.DataFrame
        :data:`HISTORY_COLUMNS` of the published rows, for :func:`write_history`.
    """
    today = public_sites.reset_index(drop=True).copy()
    hist = _empty_history() if history is None else history.reset_index(drop=True)

    left, right, _ = match_nearest(
        today["lat"].to_numpy(), today["lon"].to_numpy(),
        hist["lat"].to_numpy(), hist["lon"].to_numpy(),
        params.match_m,
    )  # fmt: skip
    site_id = np.full(len(today), None, dtype=object)
    first_pub = np.full(len(today), day, dtype=object)
    site_id[left] = hist["site_id"].to_numpy()[right]
    first_pub[left] = hist["first_published"].to_numpy()[right]
    fresh = np.flatnonzero(pd.isna(site_id))
    site_id[fresh] = _new_ids(today.iloc[fresh], hist["site_id"])
    today.insert(0, "site_id", site_id)
    today.insert(1, "status", "active")
    today.insert(2, "first_published", first_pub)

    carried = hist.drop(index=right).copy()
    carried["cluster"] = -1
    quiet_today = _quiet_days(today, day)
    quiet_carried = _quiet_days(carried, day)
    stale_today = (quiet_today >= _stale_after(today, params, landed)) | _collapsed(
        today, day, params
    )
    stale_carried = quiet_carried >= _stale_after(carried, params, landed)

    today["status"] = np.where(
        today["first_published"] == day, "new", np.where(stale_today, "stale", "active")
    )
    carried["status"] = "stale"
    today = today[quiet_today < params.retire_days]
    carried = carried[stale_carried & (quiet_carried < params.retire_days)]
    if not params.carry_vanished:
        carried = carried.iloc[:0]

    parts = [frame for frame in (today, carried.reindex(columns=today.columns)) if len(frame)]
    published = pd.concat(parts, ignore_index=True) if parts else today.iloc[:0].copy()
    published = published.sort_values("site_id", kind="stable").reset_index(drop=True)
    for col in ("cluster", "sessions", "vehicles"):
        published[col] = published[col].astype(np.int64)
    return published, published.loc[:, list(HISTORY_COLUMNS)].copy()


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _empty_history() -> pd.DataFrame:
    return _HISTORY_SCHEMA.empty_table().to_pandas()


def _quiet_days(sites: pd.DataFrame, day: str) -> np.ndarray:
    """Whole days from each site's last session to ``day``."""
    return _days_since(sites["last_seen"], day).astype(np.int64)


def recent_use(
    plug_day: npt.ArrayLike,
    labels: npt.ArrayLike,
    vehicle: npt.ArrayLike,
    n_sites: int,
    day: str,
    days: int,
    regular_min_sessions: int,
) -> pd.DataFrame:
    """Per site, its sessions in the last ``days`` days up to ``day``, and those of its
    occasional vehicles: vehicles with fewer than ``regular_min_sessions`` sessions there (the
    site's passing drivers, not its regulars). The lifecycle's collapse tests read them.

    Parameters
    ----------
    plug_day : array_like
        Each session's plug-in day (the day the sites' ``first_seen``/``last_seen`` count in),
        ``datetime64[D]`` (or anything NumPy casts to it).
    labels : array_like
        Each session's site (-1: none).
    vehicle : array_like
        Each session's (pseudonymous) vehicle; any hashable values.
    n_sites : int
        Number of sites (labels ``0 .. n_sites - 1``; others are ignored).
    day : str
        The run day, ``YYYY-MM-DD``.
    days : int
        Length of the recent period.
    regular_min_sessions : int
        A vehicle with this many sessions at a site is one of its regulars.

    Returns
    -------
    pandas.DataFrame
        One row per site: ``recent_sessions``, ``occasional_sessions``,
        ``recent_occasional_sessions`` (int64), ``occasional_last_seen`` (``YYYY-MM-DD`` of
        the last occasional session, None if none) and ``last_seen_but_one`` (the day of the
        site's last session but one, None with fewer than two).

    Examples
    --------
    Vehicle ``a`` is a regular of site 0 (4 sessions); ``b`` came once, on 10-01:

    >>> d = np.array(["2026-10-01"] + ["2026-10-27"] * 4, "datetime64[D]")
    >>> recent_use(d, [0, 0, 0, 0, 0], list("baaaa"), 2, "2026-10-28", 21, 4).to_dict("list")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'recent_sessions': [4, 0], 'occasional_sessions': [1, 0],
     'recent_occasional_sessions': [0, 0], 'occasional_last_seen': ['2026-10-01', None],
     'last_seen_but_one': ['2026-10-27', None]}
    >>> recent_use(np.array([], "datetime64[D]"), [], [], 1, "2026-10-28", 21, 4).to_dict("list")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'recent_sessions': [0], 'occasional_sessions': [0], 'recent_occasional_sessions': [0],
     'occasional_last_seen': [None], 'last_seen_but_one': [None]}
    """
    d = np.asarray(plug_day, dtype="datetime64[D]")
    lab = np.asarray(labels, dtype=np.int64)
    codes, uniques = pd.factorize(np.asarray(vehicle), use_na_sentinel=False)
    on = (lab >= 0) & (lab < n_sites)
    lab, d, codes = lab[on], d[on], codes[on].astype(np.int64)
    _, pair, per_pair = np.unique(lab * max(len(uniques), 1) + codes, return_inverse=True,
                                  return_counts=True)  # fmt: skip
    occ = per_pair[pair.reshape(-1)] < regular_min_sessions
    first = np.datetime64(day, "D") - np.timedelta64(days - 1, "D")
    recent = (d >= first) & (d <= np.datetime64(day, "D"))
    last = np.full(n_sites, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, lab[occ], d[occ].astype(np.int64))
    seen = last > np.iinfo(np.int64).min
    last_day = np.full(n_sites, None, dtype=object)
    last_day[seen] = last[seen].astype("datetime64[D]").astype(str)

    def count(keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        return np.bincount(lab[keep], minlength=n_sites).astype(np.int64)

    # each site's last session day but one: sessions sorted by (site, day), each site's last
    # row's predecessor where the site has two or more
    di = d.astype(np.int64)
    order = np.lexsort((di, lab))
    ls, ds = lab[order], di[order]
    ends = np.flatnonzero(np.r_[ls[1:] != ls[:-1], True]) if len(ls) else np.zeros(0, np.int64)
    two = np.bincount(lab, minlength=n_sites)[ls[ends]] >= 2
    but_one = np.full(n_sites, None, dtype=object)
    but_one[ls[ends[two]]] = ds[ends[two] - 1].astype("datetime64[D]").astype(str)

    return pd.DataFrame(
        {
            "recent_sessions": count(recent),
            "occasional_sessions": count(occ),
            "recent_occasional_sessions": count(occ & recent),
            "occasional_last_seen": last_day,
            "last_seen_but_one": but_one,
        }
    )


def landed_share(
    plug_day: npt.ArrayLike, landing_day: npt.ArrayLike, day: str, days: int
) -> npt.NDArray[np.float64]:
    """The share of a day's sessions landed ``k`` days later, ``k = 0 .. days - 1``.

    Cars upload their logs late (a day or two, sometimes a week), so the last days before
    ``day`` hold only part of their sessions. Share ``k`` is estimated from the sessions
    plugged in (UTC day) at least ``k`` days before ``day``, which have had ``k`` days to
    land; all ones where there are none.

    >>> plug = np.array(["2026-10-01", "2026-10-01", "2026-10-01", "2026-10-02"], "datetime64[D]")
    >>> land = np.array(["2026-10-01", "2026-10-02", "2026-10-04", "2026-10-02"], "datetime64[D]")
    >>> landed_share(plug, land, "2026-10-10", 4).tolist()
    [0.5, 0.75, 0.75, 1.0]
    >>> landed_share(plug[:0], land[:0], "2026-10-10", 3).tolist()
    [1.0, 1.0, 1.0]
    """
    plug = np.asarray(plug_day, dtype="datetime64[D]")
    lag = np.clip((np.asarray(landing_day, dtype="datetime64[D]") - plug).astype(np.int64), 0, days)
    ago = np.clip((np.datetime64(day, "D") - plug).astype(np.int64), 0, days)
    hist = np.bincount(ago * (days + 1) + lag, minlength=(days + 1) ** 2).reshape(days + 1, -1)
    old_enough = hist[::-1].cumsum(axis=0)[::-1][:days]  # row k: plugged >= k days ago
    sessions = old_enough.sum(axis=1)
    landed = old_enough.cumsum(axis=1)[np.arange(days), np.arange(days)]
    share = np.where(sessions > 0, landed / np.maximum(sessions, 1), 1.0)
    return np.maximum.accumulate(share)  # each k from its own cohort: kept non-decreasing


def _collapsed(sites: pd.DataFrame, day: str, params: LifecycleParams) -> np.ndarray:
    """Sites whose all or occasional use collapsed (:func:`_use_collapsed`), or whose occasional
    use stopped (:func:`_occasional_gone`)."""
    out = np.zeros(len(sites), dtype=bool)
    if not len(sites):
        return out
    if "recent_sessions" in sites:
        out |= _use_collapsed(sites["sessions"], sites["recent_sessions"], sites, day, params)
    if "recent_occasional_sessions" in sites:
        out |= _use_collapsed(
            sites["occasional_sessions"], sites["recent_occasional_sessions"], sites, day, params
        )
        out |= _occasional_gone(sites, day, params)
    if "last_seen_but_one" in sites:
        out |= _quiet_but_one_stray(sites, day, params)
    return out


def _quiet_but_one_stray(sites: pd.DataFrame, day: str, params: LifecycleParams) -> np.ndarray:
    """Whether at most one session came in the last ``T >= stale_days`` days where the site's
    rate gives that with Poisson probability below ``stale_p``: a closed station that caught
    one stray fix since. Off with ``stale_one_stray`` false."""
    if not params.stale_one_stray:
        return np.zeros(len(sites), dtype=bool)
    quiet = np.nan_to_num(_days_since(sites["last_seen_but_one"], day), nan=-1.0)  # NaN: < 2
    return (quiet >= params.stale_days) & (
        pdtr(1, _visit_rate(sites) * np.maximum(quiet, 0.0)) < params.stale_p
    )


def _use_collapsed(
    total: pd.Series, recent: pd.Series, sites: pd.DataFrame, day: str, params: LifecycleParams
) -> np.ndarray:
    """Whether the last ``stale_days`` saw fewer than ``stale_collapse_share`` of the sessions
    the rate before would give, a count that rate gives with Poisson probability below
    ``stale_collapse_p`` (the site seen for at least ``stale_days`` before: a rate needs a
    period as long as the test's)."""
    if params.stale_collapse_share <= 0:
        return np.zeros(len(sites), dtype=bool)
    now = recent.to_numpy(np.float64)
    before = total.to_numpy(np.float64) - now
    # days seen before the recent period
    span = _days_since(sites["first_seen"], day) - (params.stale_days - 1)
    expected = np.where(
        span >= params.stale_days, before / np.maximum(span, 1.0) * params.stale_days, 0.0
    )
    return (
        (expected > 0)
        & (now < params.stale_collapse_share * expected)
        & (pdtr(now, expected) < params.stale_collapse_p)
    )


def _occasional_gone(sites: pd.DataFrame, day: str, params: LifecycleParams) -> np.ndarray:
    """Whether no occasional vehicle came for ``max(stale_days, ln(1/stale_occasional_p)/r)``
    days, ``r`` the site's occasional sessions per day since its first session."""
    if params.stale_occasional_p <= 0:
        return np.zeros(len(sites), dtype=bool)
    days = _days_since(sites["first_seen"], day) + 1.0
    rate = sites["occasional_sessions"].to_numpy(np.float64) / np.maximum(days, 1.0)
    with np.errstate(divide="ignore"):
        after = np.maximum(np.log(1.0 / params.stale_occasional_p) / rate, params.stale_days)
    quiet = _days_since(sites["occasional_last_seen"], day)  # NaN: none ever
    return np.nan_to_num(quiet, nan=-1.0) >= after


def _days_since(dates: pd.Series, day: str) -> np.ndarray:
    """Whole days from each ``YYYY-MM-DD`` (None: NaN) to ``day``, as float64."""
    since = pd.Timestamp(day) - pd.to_datetime(dates, format="%Y-%m-%d")
    return (since // pd.Timedelta(days=1)).to_numpy(np.float64)


def _visit_rate(sites: pd.DataFrame) -> np.ndarray:
    """Sessions per day between each site's first and last session (both counted)."""
    first = pd.to_datetime(sites["first_seen"], format="%Y-%m-%d")
    last = pd.to_datetime(sites["last_seen"], format="%Y-%m-%d")
    span = ((last - first) // pd.Timedelta(days=1)).to_numpy(np.float64) + 1.0
    return sites["sessions"].to_numpy(np.float64) / np.maximum(span, 1.0)


def _stale_after(
    sites: pd.DataFrame, params: LifecycleParams, landed: npt.ArrayLike | None = None
) -> np.ndarray:
    """Quiet days after which each site is stale: the fewest ``T`` whose landed share of
    ``rate * T`` expected sessions reaches ``ln(1/p)`` (``T = ln(1/p)/rate`` with every session
    landed at once), clipped to the config."""
    n = params.stale_days
    share = np.ones(n) if landed is None else np.asarray(landed, dtype=np.float64)[:n]
    days_worth = np.cumsum(np.r_[share, np.ones(n - share.size)])  # of T quiet days, T = 1..n
    with np.errstate(divide="ignore"):
        need = np.log(1.0 / params.stale_p) / _visit_rate(sites)
    after = np.searchsorted(days_worth, np.nan_to_num(need, nan=np.inf), side="left") + 1.0
    return np.clip(after, params.min_stale_days, params.stale_days)


def _new_ids(sites: pd.DataFrame, taken: pd.Series) -> np.ndarray:
    """Deterministic ids ``cp-<H3 res-12 cell>`` with a numeric suffix where the cell is taken.

    New sites sharing a cell are numbered in (lat, lon) order after the highest suffix the
    history already uses for that cell, so an id is never reused while it is in the history.
    """
    if sites.empty:
        return np.empty(0, dtype=object)
    cells = latlng_to_cells(sites["lat"].to_numpy(), sites["lon"].to_numpy(), ID_RES)
    base = pd.Series(np.char.add("cp-", cells_to_str(cells)), index=sites.index, dtype=object)
    parts = taken.astype(str).str.extract(r"^(?P<base>cp-[0-9a-f]+)(?:-(?P<n>\d+))?$")
    used = (
        parts.assign(n=pd.to_numeric(parts["n"]).fillna(0).astype(np.int64) + 1)
        .groupby("base")["n"]
        .max()
    )  # next free number per cell: 0 = the bare cell id is free
    order = np.lexsort((sites["lon"].to_numpy(), sites["lat"].to_numpy(), base.to_numpy()))
    ranked = base.iloc[order]
    number = ranked.groupby(ranked, sort=False).cumcount().to_numpy() + (
        ranked.map(used).fillna(0).astype(np.int64).to_numpy()
    )
    ids = np.where(number == 0, ranked.to_numpy(), ranked.to_numpy() + "-" + number.astype(str))
    out = np.empty(len(sites), dtype=object)
    out[order] = ids
    return out
