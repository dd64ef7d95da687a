"""The simulated world: charge stations of every kind, and the vehicles that use them.

:func:`build_world` returns two tables:

* ``stations`` — one row per physical charge station: real AFDC public sites inside the region
  (``public_ac`` / ``public_dc``), plus generated ``home`` (single-family), ``apartment_garage``
  and ``workplace`` chargers. Homes sit on a grid of lots in residential neighbourhoods whose
  number is fixed, so a larger fleet means denser streets (neighbours 20 m apart).
* ``vehicles`` — one row per vehicle: its home kind and station, workplace, consent, telematics
  provider (which decides the landing file format), connectors, battery and the public stations
  it frequents (``fav``: indices into ``stations``, ``fav_cum``: cumulative choice weights).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from pipelines.sim._geo import haversine_m, offset, to_xyz
from pipelines.sim.config import SimConfig
from pipelines.sim.reference import load_stations

HOME_KINDS = ("single_family", "apartment", "none")
PUBLIC_KINDS = ("public_ac", "public_dc")
PRIVATE_KINDS = ("home", "apartment_garage", "workplace")
#: telematics providers: file format of their uploads (see writer.py)
PROVIDER_WEIGHTS = np.array([0.3, 0.15, 0.25, 0.1, 0.2])
#: lots closer than this to a public station or workplace are not used for homes
MIN_HOME_CLEARANCE_M = 30.0
#: how far from its station a home placed next to one lies (share_home_near_station)
NEAR_STATION_M = (30.0, 80.0)


@dataclass(frozen=True)
class World:
    """Stations and vehicles of one simulation (see the module docstring)."""

    stations: pd.DataFrame
    vehicles: pd.DataFrame
    fav: np.ndarray  # (vehicles, K) int station indices
    fav_cum: np.ndarray  # (vehicles, K) float cumulative weights, last column 1.0


def _polar(rng: np.random.Generator, n: int, radius_m: float, spread: float):
    """East/north offsets (m) concentrated towards the centre, never beyond the radius."""
    r = radius_m * np.minimum(np.abs(rng.normal(0.0, spread, n)), 0.95)
    t = rng.uniform(0, 2 * np.pi, n)
    return r * np.cos(t), r * np.sin(t)


def _disk(rng: np.random.Generator, radius_m: np.ndarray | float, n: int):
    r = np.asarray(radius_m) * np.sqrt(rng.random(n))
    t = rng.uniform(0, 2 * np.pi, n)
    return r * np.cos(t), r * np.sin(t)


def _public_stations(cfg: SimConfig, rng: np.random.Generator) -> pd.DataFrame:
    reg = cfg.region_spec
    ref = load_stations(cfg.reference_dir)
    d = np.linalg.norm(
        to_xyz(ref["lat"].to_numpy(), ref["lon"].to_numpy())
        - to_xyz(np.array([reg.lat]), np.array([reg.lon])),
        axis=1,
    )
    ref = ref[d <= reg.radius_km * 1000.0].reset_index(drop=True)
    if len(ref) < 10:
        raise ValueError(f"region {reg.name!r} holds only {len(ref)} reference stations")
    n = len(ref)
    ports = ref["l2_ports"].to_numpy() + ref["dc_ports"].to_numpy()
    popularity = rng.lognormal(0.0, 1.0, n) * np.where(ref["dc"].to_numpy(), 2.0, 1.0)
    opened = np.full(n, None, dtype=object)
    closed = np.full(n, None, dtype=object)
    order = rng.permutation(n)
    n_open, n_close = round(n * cfg.share_opening), round(n * cfg.share_closing)
    days = max(cfg.days, 5)
    for idx, target in ((order[:n_open], opened), (order[n_open : n_open + n_close], closed)):
        offs = rng.integers(2, days - 2, len(idx))
        target[idx] = [cfg.start + dt.timedelta(days=int(o)) for o in offs]
    registry = rng.random(n) < cfg.share_registry
    return pd.DataFrame(
        {
            "station_id": "P" + ref["afdc_id"].astype(str),
            "kind": np.where(ref["dc"], "public_dc", "public_ac"),
            "lat": ref["lat"].to_numpy(),
            "lon": ref["lon"].to_numpy(),
            "name": ref["name"].to_numpy(),
            "opened": opened,
            "closed": closed,
            "registry_id": np.where(registry, "AFDC-" + ref["afdc_id"].astype(str), None),
            "bay_m": np.clip(3.0 + 2.0 * np.sqrt(np.maximum(ports, 1)), 4.0, 15.0),
            "popularity": popularity,
            "optout_only": False,
        }
    )


def _lots(cfg: SimConfig, rng: np.random.Generator, n: int, avoid_xyz: np.ndarray):
    """``n`` distinct residential lots (lat, lon) at least MIN_HOME_CLEARANCE_M from ``avoid``."""
    reg = cfg.region_spec
    g = cfg.lots_per_side
    n_total = cfg.neighbourhoods * g * g
    if n > 0.8 * n_total:
        raise ValueError(f"{n} homes do not fit in {n_total} lots; raise neighbourhoods")
    # neighbourhood centres depend on the seed only, not on the fleet size
    hood_rng = np.random.default_rng([cfg.seed, 7])
    ce, cn = _polar(hood_rng, cfg.neighbourhoods, reg.radius_km * 1000.0, 0.45)
    tree = cKDTree(avoid_xyz) if len(avoid_xyz) else None
    chosen = np.empty(0, dtype=np.int64)
    want = n
    while len(chosen) < n:
        cand = rng.choice(n_total, size=min(n_total, int(want * 1.3) + 16), replace=False)
        cand = np.setdiff1d(cand, chosen, assume_unique=False)
        hood, rest = np.divmod(cand, g * g)
        row, col = np.divmod(rest, g)
        half = (g - 1) / 2.0
        e = ce[hood] + (col - half) * cfg.lot_spacing_m + rng.uniform(-2, 2, len(cand))
        nn = cn[hood] + (row - half) * cfg.lot_spacing_m + rng.uniform(-2, 2, len(cand))
        lat, lon = offset(np.full(len(cand), reg.lat), np.full(len(cand), reg.lon), e, nn)
        ok = np.ones(len(cand), dtype=bool)
        if tree is not None:
            d, _ = tree.query(to_xyz(lat, lon), k=1)
            ok = d >= MIN_HOME_CLEARANCE_M
        keep = cand[ok][: n - len(chosen)]
        chosen = np.concatenate([chosen, keep])
        want = n - len(chosen)
    hood, rest = np.divmod(chosen, g * g)
    row, col = np.divmod(rest, g)
    half = (g - 1) / 2.0
    jitter = np.random.default_rng([cfg.seed, 11]).uniform(-2, 2, (2, len(chosen)))
    e = ce[hood] + (col - half) * cfg.lot_spacing_m + jitter[0]
    nn = cn[hood] + (row - half) * cfg.lot_spacing_m + jitter[1]
    return offset(np.full(n, reg.lat), np.full(n, reg.lon), e, nn)


def _beside(
    lat: np.ndarray,
    lon: np.ndarray,
    dist: np.ndarray,
    angle: np.ndarray,
    avoid_xyz: np.ndarray,
    rng: np.random.Generator,
    lot_lat: np.ndarray,
    lot_lon: np.ndarray,
    tries: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """Homes ``dist`` metres from (lat, lon) at ``angle``, each at least MIN_HOME_CLEARANCE_M
    from every point of ``avoid``: a home that is not is drawn again (NEAR_STATION_M, any
    angle) up to ``tries`` times, and then keeps its ordinary lot (``lot_lat``, ``lot_lon``).
    The first draw is kept wherever it is clear, so only the homes that were too close move."""
    out_lat, out_lon = offset(lat, lon, dist * np.cos(angle), dist * np.sin(angle))
    if not len(avoid_xyz):
        return out_lat, out_lon
    tree = cKDTree(avoid_xyz)
    clear = MIN_HOME_CLEARANCE_M - 1.0  # the own station is >= 30 m off, give or take rounding
    bad = tree.query(to_xyz(out_lat, out_lon), k=1)[0] < clear
    for _ in range(tries):
        if not bad.any():
            break
        i = np.flatnonzero(bad)
        d = rng.uniform(*NEAR_STATION_M, len(i))
        t = rng.uniform(0, 2 * np.pi, len(i))
        out_lat[i], out_lon[i] = offset(lat[i], lon[i], d * np.cos(t), d * np.sin(t))
        bad[i] = tree.query(to_xyz(out_lat[i], out_lon[i]), k=1)[0] < clear
    out_lat[bad], out_lon[bad] = lot_lat[bad], lot_lon[bad]
    return out_lat, out_lon


def _groups(rng: np.random.Generator, members: int, mean: float) -> np.ndarray:
    """Assign ``members`` to ``ceil(members/mean)`` groups of uneven size; labels 0..g-1 used."""
    if members == 0:
        return np.empty(0, dtype=np.int64)
    g = max(1, int(np.ceil(members / mean)))
    w = rng.gamma(1.5, size=g)
    lab = rng.choice(g, size=members, p=w / w.sum())
    _, dense = np.unique(lab, return_inverse=True)
    return dense


def build_world(cfg: SimConfig, rng: np.random.Generator) -> World:
    """Generate stations and vehicles for ``cfg`` (deterministic for ``rng``'s seed)."""
    reg = cfg.region_spec
    n = cfg.vehicles
    public = _public_stations(cfg, rng)

    u = rng.random(n)
    home_kind = np.where(
        u < cfg.share_single_family,
        0,
        np.where(u < cfg.share_single_family + cfg.share_apartment, 1, 2),
    )
    has_work = rng.random(n) < cfg.share_workplace
    opt_in = rng.random(n) >= cfg.share_opted_out

    # opted-out-only public stations: only opted-out vehicles ever charge there
    n_out = int((~opt_in).sum())
    if n_out:
        stable = public.index[public["opened"].isna() & public["closed"].isna()].to_numpy()
        # about one per 6 opted-out vehicles, but never more than 1 % of the public stations
        k = max(1, min(n_out // 6, round(0.01 * len(public))))
        oo = rng.choice(stable, size=min(k, len(stable)), replace=False)
        public.loc[oo, "optout_only"] = True

    # workplaces: central; NOT kept away from public stations (a workplace car park, 20 m across,
    # may hold a public charger or lie a few metres from one: docs/simulator.md)
    work_of = np.full(n, -1)
    w_idx = np.flatnonzero(has_work)
    w_lab = _groups(rng, len(w_idx), cfg.workplace_mean_vehicles)
    n_work = int(w_lab.max() + 1) if len(w_lab) else 0
    we, wn = _polar(rng, n_work, reg.radius_km * 1000.0, 0.25)
    w_lat, w_lon = offset(np.full(n_work, reg.lat), np.full(n_work, reg.lon), we, wn)

    # garages for apartment dwellers
    a_idx = np.flatnonzero(home_kind == 1)
    a_lab = _groups(rng, len(a_idx), cfg.garage_mean_vehicles)
    n_gar = int(a_lab.max() + 1) if len(a_lab) else 0

    # lots: single-family homes, garages, residences without a charger
    s_idx = np.flatnonzero(home_kind == 0)
    # two-EV households: a vehicle may share the previous single-family vehicle's home
    mover = rng.random(len(s_idx)) < cfg.share_two_ev_homes
    mover[1:] &= ~mover[:-1]
    if len(mover):
        mover[0] = False
    household = np.cumsum(~mover) - 1
    n_home = int(household.max() + 1) if len(household) else 0
    n_idx = np.flatnonzero(home_kind == 2)
    avoid = to_xyz(
        np.concatenate([public["lat"].to_numpy(), w_lat]),
        np.concatenate([public["lon"].to_numpy(), w_lon]),
    )
    lat, lon = _lots(cfg, rng, n_home + n_gar + len(n_idx), avoid)
    h_lat, h_lon = lat[:n_home], lon[:n_home]
    g_lat, g_lon = lat[n_home : n_home + n_gar], lon[n_home : n_home + n_gar]
    r_lat, r_lon = lat[n_home + n_gar :], lon[n_home + n_gar :]

    # some homes right next to a public station: NEAR_STATION_M from it, and like every lot at least
    # MIN_HOME_CLEARANCE_M from every other station and workplace
    near = np.flatnonzero(rng.random(n_home) < cfg.share_home_near_station)
    if len(near):
        at = rng.integers(0, len(public), len(near))
        dist = rng.uniform(*NEAR_STATION_M, len(near))
        t = rng.uniform(0, 2 * np.pi, len(near))
        redraw = np.random.default_rng([cfg.seed, 13])
        h_lat[near], h_lon[near] = _beside(
            public["lat"].to_numpy()[at],
            public["lon"].to_numpy()[at],
            dist,
            t,
            avoid,
            redraw,
            h_lat[near],
            h_lon[near],
        )

    n_pub = len(public)
    homes = _private_sites("H", 6, "home", h_lat, h_lon, 2.0)
    garages = _private_sites("G", 5, "apartment_garage", g_lat, g_lon, 15.0)
    works = _private_sites("W", 4, "workplace", w_lat, w_lon, 20.0)
    private = pd.concat([homes, garages, works], ignore_index=True)
    private["name"] = None
    private["opened"] = None
    private["closed"] = None
    private["registry_id"] = None
    private["popularity"] = 0.0
    private["optout_only"] = False
    stations = pd.concat([public, private[public.columns]], ignore_index=True)

    home_station = np.full(n, -1)
    home_station[s_idx] = n_pub + household
    home_station[a_idx] = n_pub + n_home + a_lab
    work_of[w_idx] = n_pub + n_home + n_gar + w_lab
    res_lat = np.empty(n)
    res_lon = np.empty(n)
    res_lat[s_idx], res_lon[s_idx] = h_lat[household], h_lon[household]
    res_lat[a_idx], res_lon[a_idx] = g_lat[a_lab], g_lon[a_lab]
    res_lat[n_idx], res_lon[n_idx] = r_lat, r_lon

    fav, fav_cum = _favourites(cfg, rng, public, res_lat, res_lon, opt_in)
    if cfg.friend_candidates is None:
        friend = _friend_homes(
            n_pub, h_lat, h_lon, res_lat, res_lon, home_station,
            cfg.friend_pool, cfg.friend_scale_m, rng,
        )  # fmt: skip
    else:
        friend = _nearest_friend_homes(
            n_pub, h_lat, h_lon, res_lat, res_lon, home_station, cfg.friend_candidates, rng
        )

    vid = rng.integers(0, 2**62, n, dtype=np.int64)
    if len(np.unique(vid)) != n:  # pragma: no cover - 2^-62 odds
        raise RuntimeError("vehicle id collision; change the seed")
    vehicles = pd.DataFrame(
        {
            "vehicle_id": [f"{v:016x}" for v in vid],
            "home_kind": np.array(HOME_KINDS)[home_kind],
            "home_station": home_station,
            "garage_private": rng.random(n) < cfg.share_garage_private,
            "work_station": work_of,
            "opt_in": opt_in,
            "activity": rng.lognormal(-0.08, 0.4, n),
            "provider": rng.choice(len(PROVIDER_WEIGHTS), size=n, p=PROVIDER_WEIGHTS),
            "dc_connector": rng.choice(["ccs", "chademo", "nacs"], size=n, p=[0.75, 0.08, 0.17]),
            "ac_connector": rng.choice(["j1772", "nacs", "type1"], size=n, p=[0.88, 0.1, 0.02]),
            "battery_kwh": rng.uniform(40.0, 100.0, n).round(0),
            "friend_home": friend,
            "res_lat": res_lat,
            "res_lon": res_lon,
        }
    )
    return World(stations, vehicles, fav, fav_cum)


def _friend_homes(
    n_pub, h_lat, h_lon, res_lat, res_lon, home_station, pool, scale_m, rng
) -> np.ndarray:
    """A single-family home that is not the vehicle's own (station index, -1 if none): among
    ``pool`` homes drawn uniformly, one drawn with weight ``1 / (1 + (d / scale_m)**2)``, ``d``
    its distance from the vehicle's residence.

    Drawing the pool uniformly keeps every home's chance of being befriended proportional to
    the vehicles around it, wherever it sits; taking the nearest homes instead made the homes at
    a neighbourhood's edge hubs for every garage and block beyond it.
    """
    n, n_home = len(res_lat), len(h_lat)
    own = np.asarray(home_station) - n_pub
    if n_home == 0 or n == 0:
        return np.full(n, -1)
    cand = rng.integers(0, n_home, (n, pool))
    res_lat, res_lon = np.asarray(res_lat)[:, None], np.asarray(res_lon)[:, None]
    d = haversine_m(h_lat[cand], h_lon[cand], res_lat, res_lon)
    w = np.where(cand == own[:, None], 0.0, 1.0 / (1.0 + (d / scale_m) ** 2))
    cum = np.cumsum(w, axis=1)
    pick = (cum <= (rng.random(n) * cum[:, -1])[:, None]).sum(axis=1)
    friend = n_pub + cand[np.arange(n), np.minimum(pick, pool - 1)]
    # a pool holding only the vehicle's own home (a one-home world): no friend
    return np.where(cum[:, -1] > 0, friend, -1)


def _nearest_friend_homes(
    n_pub, h_lat, h_lon, res_lat, res_lon, home_station, k, rng
) -> np.ndarray:
    """The older model: a home that is not the vehicle's own, drawn uniformly from the ``k``
    nearest to its residence (station index, -1 if none)."""
    k = min(k, len(h_lat) - 1)
    if k < 1:
        return np.full(len(res_lat), -1)
    _, j = cKDTree(to_xyz(h_lat, h_lon)).query(to_xyz(res_lat, res_lon), k=k + 1)
    j = np.asarray(j).reshape(len(res_lat), k + 1)
    # draw among the k+1 nearest minus the own home (wherever it sits), else minus the farthest
    own = (n_pub + j) == np.asarray(home_station)[:, None]
    skip = np.where(own.any(axis=1), own.argmax(axis=1), k)
    r = rng.integers(0, k, len(j))
    return n_pub + j[np.arange(len(j)), r + (r >= skip)]


def _favourites(cfg, rng, public, res_lat, res_lon, opt_in):
    """Each vehicle's K nearest usable public stations, weighted by popularity and distance."""
    usable = np.flatnonzero(~public["optout_only"].to_numpy())
    k = min(cfg.favourites, len(usable))
    tree = cKDTree(to_xyz(public["lat"].to_numpy()[usable], public["lon"].to_numpy()[usable]))
    d, j = tree.query(to_xyz(res_lat, res_lon), k=k)
    d, j = d.reshape(len(res_lat), k), j.reshape(len(res_lat), k)
    fav = usable[j]
    w = public["popularity"].to_numpy()[fav] * np.exp(-d / 3000.0)
    oo = np.flatnonzero(public["optout_only"].to_numpy())
    out = np.flatnonzero(~opt_in)
    if len(oo) and len(out):
        fav[out, 0] = oo[np.arange(len(out)) % len(oo)]
        w[out, 0] = w[out, 1:].sum(axis=1) if k > 1 else 1.0
    cum = np.cumsum(w, axis=1)
    cum /= cum[:, -1:]
    return fav, cum


def _private_sites(
    prefix: str, width: int, kind: str, lat: np.ndarray, lon: np.ndarray, bay_m: float
) -> pd.DataFrame:
    """Truth rows of one kind of private site: ids ``<prefix><n zero-padded to width>``."""
    return pd.DataFrame(
        {
            "station_id": [f"{prefix}{i:0{width}d}" for i in range(len(lat))],
            "kind": kind,
            "lat": lat,
            "lon": lon,
            "bay_m": bay_m,
        }
    )
