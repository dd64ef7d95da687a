"""Synthetic lake sessions for the benchmark, generated as whole numpy arrays.

Not the fleet simulator (``pipelines/sim``): that one writes realistic, corrupted landing files
for end-to-end tests; this one makes lake-ready session tables (``SESSIONS_SCHEMA``) of any size
fast, so the benchmark measures site discovery and nothing else.

The world, in a square region around Tokyo whose side grows with the fleet (about 1,000 vehicles
per 100 km²):

* every vehicle has a home (a quarter of them in apartment blocks of 5-40 neighbours, each
  parking spot its own place within ~40 m), 30 % a workplace car park;
* public stations: one per 40 vehicles, a quarter DC; popularity is Zipf-like; each vehicle
  has three favourites (80 % of its public sessions) and otherwise picks any station;
* 0.33 sessions per vehicle per day: 55 % home, 10 % work, 32 % public, 3 % anywhere (noise);
* GPS noise 4 m (garages: 10 m); 2 % of sessions report 150 m accuracy (not used to place sites);
* each session lands on its own day, 3 % on the next (late uploads).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.h3cells import latlng_to_cells
from pipelines.schema import SESSION_CELL_RES, SESSIONS_SCHEMA

M_PER_DEG = 111_195.08
CENTRE = (35.68, 139.77)
SESSIONS_PER_VEHICLE_DAY = 0.33
KINDS_P = np.array([0.55, 0.10, 0.32, 0.03])  # home, work, public, noise


class World:
    """Places of a synthetic fleet (positions in metres east/north of CENTRE)."""

    def __init__(self, vehicles: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.vehicles = vehicles
        self.side_m = 10_000.0 * np.sqrt(max(vehicles, 1000) / 1000.0)
        half = self.side_m / 2
        # homes: 75 % detached, 25 % in blocks
        n_blocks = max(vehicles // 4 // 20, 1)
        block_xy = rng.uniform(-half, half, (n_blocks, 2))
        in_block = rng.random(vehicles) < 0.25
        block = rng.integers(0, n_blocks, vehicles)
        self.home = np.where(
            in_block[:, None],
            block_xy[block] + rng.uniform(-40, 40, (vehicles, 2)),
            rng.uniform(-half, half, (vehicles, 2)),
        )
        self.garage = in_block
        n_work = max(vehicles // 200, 1)
        work_xy = rng.uniform(-half, half, (n_work, 2))
        self.work = np.where(
            (rng.random(vehicles) < 0.3)[:, None],
            work_xy[rng.integers(0, n_work, vehicles)],
            np.nan,
        )
        n_st = max(vehicles // 40, 5)
        self.station = rng.uniform(-half, half, (n_st, 2))
        self.station_dc = rng.random(n_st) < 0.25
        pop = 1.0 / np.arange(1, n_st + 1) ** 0.8
        self.station_p = rng.permutation(pop / pop.sum())
        self.favourites = rng.choice(n_st, (vehicles, 3), p=self.station_p)
        # like the lake's HMAC-SHA256 pseudonyms: 64 random hex digits
        raw = np.frombuffer(rng.bytes(32 * vehicles), dtype="S32")
        self.names = np.array([x.hex() for x in raw.tolist()], dtype=object)


def sessions_for_days(world: World, first_day: str, days: int, seed: int = 1) -> pd.DataFrame:
    """Sessions of ``days`` consecutive UTC days from ``first_day`` (lake columns, sorted)."""
    rng = np.random.default_rng([seed, np.datetime64(first_day, "D").astype(int)])
    nv = world.vehicles
    n = rng.poisson(SESSIONS_PER_VEHICLE_DAY * nv * days)
    veh = rng.integers(0, nv, n)
    day = rng.integers(0, days, n)
    kind = rng.choice(4, n, p=KINDS_P)
    kind = np.where((kind == 1) & np.isnan(world.work[veh, 0]), 0, kind)
    fav = rng.random(n) < 0.8
    st = np.where(
        fav,
        world.favourites[veh, rng.integers(0, 3, n)],
        rng.choice(world.station.shape[0], n, p=world.station_p),
    )
    half = world.side_m / 2
    xy = np.select(
        [kind == 0, kind == 1, kind == 2],
        [world.home[veh].T, world.work[veh].T, world.station[st].T + rng.uniform(-12, 12, (2, n))],
        rng.uniform(-half, half, (2, n)),
    ).T
    garage = (kind == 0) & world.garage[veh]
    xy = xy + rng.normal(0, 1, (n, 2)) * np.where(garage, 10.0, 4.0)[:, None]
    lat = CENTRE[0] + xy[:, 1] / M_PER_DEG
    lon = CENTRE[1] + xy[:, 0] / (M_PER_DEG * np.cos(np.radians(CENTRE[0])))
    dc = (kind == 2) & world.station_dc[st] & (rng.random(n) < 0.75)
    power = np.where(dc, rng.choice([50.0, 90.0, 150.0], n), rng.choice([3.7, 7.2, 11.0], n))
    power = np.where(rng.random(n) < 0.2, np.nan, power).astype(np.float32)
    hour = np.select([kind == 0, kind == 1], [rng.normal(19, 2, n), rng.normal(9, 1, n)], 14.0)
    start = (
        np.datetime64(first_day, "s")
        + day.astype("timedelta64[D]")
        + (np.clip(hour + rng.normal(0, 2, n), 0, 23.99) * 3600).astype("timedelta64[s]")
    )
    dwell = np.where(dc, 1800, np.where(kind == 0, 36_000, 7_200)) * rng.uniform(0.5, 1.5, n)
    acc = np.where(rng.random(n) < 0.02, 150.0, rng.uniform(3, 20, n)).astype(np.float32)
    land = start.astype("datetime64[D]") + (rng.random(n) < 0.03).astype("timedelta64[D]")
    df = pd.DataFrame(
        {
            "vehicle": world.names[veh],
            "session_id": np.char.add("s", np.arange(n).astype(str)).astype(object),
            "plug_in_utc": pd.to_datetime(start).tz_localize("UTC"),
            "plug_out_utc": pd.to_datetime(start + dwell.astype("timedelta64[s]")).tz_localize(
                "UTC"
            ),
            "utc_offset_min": np.full(n, 540, np.int16),
            "lat": lat,
            "lon": lon,
            "energy_kwh": (rng.uniform(5, 40, n)).astype(np.float32),
            "max_power_kw": power,
            "connector": np.where(dc, "ccs", "type2").astype(object),
            "soc_start_pct": rng.uniform(10, 50, n).astype(np.float32),
            "soc_end_pct": rng.uniform(60, 100, n).astype(np.float32),
            "gps_accuracy_m": acc,
            "cell": latlng_to_cells(lat, lon, SESSION_CELL_RES),
            "landing_day": pd.to_datetime(land).strftime("%Y-%m-%d").to_numpy(object),
        }
    )
    df = df.sort_values(["plug_in_utc", "vehicle"], kind="stable", ignore_index=True)
    return df[list(SESSIONS_SCHEMA.names)]
