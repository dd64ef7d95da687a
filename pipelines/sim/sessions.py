"""Charge sessions of a simulated fleet, generated as whole arrays (no per-row Python).

:func:`generate_sessions` returns one row per real session (before duplicates and corruption):
who, where (station index and the reported, noisy GPS position), when (UTC and local offsets),
how much, and on which landing day the vehicle uploads it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.sim._geo import offset
from pipelines.sim.config import SimConfig
from pipelines.sim.fleet import World

#: share of sessions at a DC-capable public station that are DC quick charges
DC_SHARE_AT_DC_STATION = 0.75
AC_POWERS_KW = np.array([3.7, 7.2, 11.0])
AC_POWER_P = np.array([0.15, 0.7, 0.15])
#: GPS in underground/multi-storey garages is worse
GARAGE_GPS_FACTOR = 2.5

KIND_HOME, KIND_GARAGE, KIND_PUBLIC, KIND_WORK = 0, 1, 2, 3


def _counts(rng, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson session counts per (vehicle, day) -> (vehicle index, day index) per session."""
    c = rng.poisson(rate)
    v, d = np.nonzero(c)
    rep = c[v, d]
    return np.repeat(v, rep), np.repeat(d, rep)


def _local_to_utc(local: np.ndarray, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Naive local datetime64[s] -> (UTC datetime64[s], local datetime64[s] after DST shifts).

    Times that do not exist (spring forward) move forward; ambiguous ones (fall back) take
    standard time.
    """
    idx = pd.DatetimeIndex(local).tz_localize(
        tz, ambiguous=np.zeros(len(local), dtype=bool), nonexistent="shift_forward"
    )
    utc = idx.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")
    loc = idx.tz_localize(None).to_numpy().astype("datetime64[s]")
    return utc, loc


def _utc_to_local(utc: np.ndarray, tz: str) -> np.ndarray:
    idx = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(tz).tz_localize(None)
    return idx.to_numpy().astype("datetime64[s]")


def generate_sessions(
    cfg: SimConfig, world: World, profiles: dict[str, np.ndarray], rng: np.random.Generator
) -> pd.DataFrame:
    """All sessions of the period, sorted by plug-in time.

    Columns: ``vehicle`` (index into vehicles), ``station`` (index into stations), ``kind``
    (0 home, 1 garage, 2 public, 3 workplace), ``dc`` (bool), ``plug_in_utc``,
    ``plug_out_utc`` (datetime64[s]), ``off_in_min``, ``off_out_min`` (local UTC offsets),
    ``lat``, ``lon`` (reported), ``gps_accuracy_m``, ``energy_kwh``, ``max_power_kw``,
    ``connector``, ``soc_start_pct``, ``soc_end_pct``, ``upload_day`` (datetime64[D]).
    """
    v, st = world.vehicles, world.stations
    days = cfg.days
    day0 = np.datetime64(cfg.start.isoformat(), "D")
    day_arr = day0 + np.arange(days)
    weekday = ((day_arr.astype("int64") + 3) % 7) < 5  # 1970-01-01 was a Thursday
    act = v["activity"].to_numpy()[:, None] * np.ones((1, days))
    home_kind = v["home_kind"].to_numpy()
    works = (v["work_station"].to_numpy() >= 0)[:, None] & weekday[None, :]

    parts = []
    sf = (home_kind == "single_family")[:, None]
    ap = (home_kind == "apartment")[:, None]
    rate_home = np.where(sf, cfg.home_rate, 0.0) * np.where(works, 0.5, 1.0) * act
    rate_gar = np.where(ap, cfg.garage_rate, 0.0) * np.where(works, 0.5, 1.0) * act
    pub = np.where(home_kind == "none", cfg.public_rate_without_home, cfg.public_rate_with_home)
    rate_pub = pub[:, None] * np.where(works, 0.5, 1.0) * act
    rate_work = np.where(works, cfg.workplace_rate, 0.0) * act
    for kind, rate in enumerate((rate_home, rate_gar, rate_pub, rate_work)):
        vi, di = _counts(rng, rate)
        parts.append((np.full(len(vi), kind, dtype=np.int8), vi, di))
    kind = np.concatenate([p[0] for p in parts])
    vi = np.concatenate([p[1] for p in parts])
    di = np.concatenate([p[2] for p in parts])
    n = len(kind)

    station = np.empty(n, dtype=np.int64)
    m = kind == KIND_HOME
    station[m] = v["home_station"].to_numpy()[vi[m]]
    m = kind == KIND_GARAGE
    station[m] = v["home_station"].to_numpy()[vi[m]]
    m = kind == KIND_WORK
    station[m] = v["work_station"].to_numpy()[vi[m]]
    pub_idx = np.flatnonzero(kind == KIND_PUBLIC)
    station[pub_idx] = _pick_public(cfg, world, rng, vi[pub_idx], di[pub_idx], day0)
    # a few out-of-home sessions are visits to a friend's home charger (evening, AC profile)
    friend = v["friend_home"].to_numpy()[vi[pub_idx]]
    visit = (rng.random(len(pub_idx)) < cfg.share_home_visits) & (friend >= 0)
    station[pub_idx[visit]] = friend[visit]

    keep = station >= 0
    kind, vi, di, station = kind[keep], vi[keep], di[keep], station[keep]
    n = len(kind)

    # energy and timing from real sessions
    skind = st["kind"].to_numpy()[station]
    dc = (skind == "public_dc") & (kind == KIND_PUBLIC) & (rng.random(n) < DC_SHARE_AT_DC_STATION)
    pool = np.where(
        kind == KIND_HOME,
        "home",
        np.where(
            kind == KIND_WORK,
            "workplace",
            np.where(
                kind == KIND_GARAGE,
                np.where(v["garage_private"].to_numpy()[vi], "home", "apartment_shared"),
                np.where(dc, "public_dc", "public_ac"),
            ),
        ),
    )
    prof = np.empty((n, 3))
    for name, table in profiles.items():
        m = pool == name
        if m.any():
            prof[m] = table[rng.integers(0, len(table), int(m.sum()))]
    start_s = prof[:, 0] * 60 + rng.integers(0, 60, n)
    dur_s = np.maximum(prof[:, 1] * 60 + rng.integers(-30, 30, n), 60)
    energy = prof[:, 2]

    local_in = (day0 + di).astype("datetime64[s]") + start_s.astype("timedelta64[s]")
    tz = cfg.region_spec.tz
    utc_in, local_in = _local_to_utc(local_in, tz)
    utc_out = utc_in + dur_s.astype("timedelta64[s]")
    local_out = _utc_to_local(utc_out, tz)
    off_in = ((local_in - utc_in).astype(np.int64) // 60).astype(np.int16)
    off_out = ((local_out - utc_out).astype(np.int64) // 60).astype(np.int16)

    # power, connector, state of charge
    hours = dur_s / 3600.0
    avg_kw = energy / hours
    ac_kw = rng.choice(AC_POWERS_KW, size=n, p=AC_POWER_P)
    dc_kw = np.clip(avg_kw * rng.uniform(1.2, 1.8, n), 25.0, 250.0)
    power = np.where(dc, dc_kw, np.clip(np.maximum(ac_kw, avg_kw * 1.05), 1.0, 22.0)).round(1)
    connector = np.where(dc, v["dc_connector"].to_numpy()[vi], v["ac_connector"].to_numpy()[vi])
    battery = v["battery_kwh"].to_numpy()[vi]
    soc0 = rng.uniform(5.0, 70.0, n)
    soc1 = np.minimum(100.0, soc0 + energy / battery * 100.0)

    lat, lon, acc = _positions(cfg, st, station, kind, rng)
    lag = np.where(
        rng.random(n) < cfg.share_late,
        np.minimum(1 + np.floor(rng.exponential(1.5, n)), cfg.max_late_days),
        0,
    ).astype("timedelta64[D]")
    upload = utc_out.astype("datetime64[D]") + lag

    out = pd.DataFrame(
        {
            "vehicle": vi,
            "station": station,
            "kind": kind,
            "dc": dc,
            "plug_in_utc": utc_in,
            "plug_out_utc": utc_out,
            "off_in_min": off_in,
            "off_out_min": off_out,
            "lat": lat,
            "lon": lon,
            "gps_accuracy_m": acc,
            "energy_kwh": energy.round(2),
            "max_power_kw": power,
            "connector": connector,
            "soc_start_pct": soc0.round(1),
            "soc_end_pct": soc1.round(1),
            "upload_day": upload,
        }
    )
    return out.sort_values(["plug_in_utc", "vehicle", "station"], kind="stable").reset_index(
        drop=True
    )


def _pick_public(cfg, world, rng, vi, di, day0) -> np.ndarray:
    """Public station per session: a favourite, or while travelling any open usable station.

    A session whose pick is not open that day retries up to three times, then is dropped (-1).
    """
    st = world.stations
    public = np.flatnonzero(st["kind"].isin(["public_ac", "public_dc"]).to_numpy())
    usable = public[~st["optout_only"].to_numpy()[public]]
    p = st["popularity"].to_numpy()[usable]
    p_cum = np.cumsum(p) / p.sum()
    opened = _day_numbers(st["opened"], -(10**6))
    closed = _day_numbers(st["closed"], 10**6)
    day_num = (day0 + di).astype("int64")
    opted_out = ~world.vehicles["opt_in"].to_numpy()[vi]
    result = np.full(len(vi), -1, dtype=np.int64)
    todo = np.arange(len(vi))
    for _ in range(4):
        if not len(todo):
            break
        u = rng.random(len(todo))
        col = (world.fav_cum[vi[todo]] < u[:, None]).sum(axis=1)
        pick = world.fav[vi[todo], col]
        travel = (rng.random(len(todo)) < cfg.share_travel) & ~opted_out[todo]
        pick[travel] = usable[np.searchsorted(p_cum, rng.random(int(travel.sum())))]
        ok = (opened[pick] <= day_num[todo]) & (day_num[todo] < closed[pick])
        result[todo[ok]] = pick[ok]
        todo = todo[~ok]
    return result


def _day_numbers(dates: pd.Series, default: int) -> np.ndarray:
    out = np.full(len(dates), default, dtype=np.int64)
    m = dates.notna().to_numpy()
    if m.any():
        out[m] = np.array([np.datetime64(d, "D") for d in dates[m]]).astype("int64")
    return out


def _positions(cfg, st, station, kind, rng):
    """Reported plug-in position: station + bay offset + GPS error; and the reported accuracy."""
    n = len(station)
    bay = st["bay_m"].to_numpy()[station]
    r = bay * np.sqrt(rng.random(n))
    t = rng.uniform(0, 2 * np.pi, n)
    e, nn = r * np.cos(t), r * np.sin(t)
    u = rng.random(n)
    outlier = u < cfg.share_gps_outlier
    poor = ~outlier & (u < cfg.share_gps_outlier + cfg.share_gps_poor)
    sigma = np.where(poor, cfg.gps_poor_sigma_m, cfg.gps_sigma_m)
    sigma = sigma * np.where(kind == KIND_GARAGE, GARAGE_GPS_FACTOR, 1.0)
    e += rng.normal(0, 1, n) * sigma
    nn += rng.normal(0, 1, n) * sigma
    d_out = rng.uniform(100.0, 600.0, n)
    t_out = rng.uniform(0, 2 * np.pi, n)
    e = np.where(outlier, d_out * np.cos(t_out), e)
    nn = np.where(outlier, d_out * np.sin(t_out), nn)
    acc = np.abs(sigma * rng.normal(1.2, 0.3, n))
    honest = rng.random(n) < 0.5
    acc = np.where(outlier, np.where(honest, rng.uniform(100, 500, n), rng.uniform(4, 15, n)), acc)
    lat, lon = offset(st["lat"].to_numpy()[station], st["lon"].to_numpy()[station], e, nn)
    return lat.round(7), lon.round(7), acc.round(1)
