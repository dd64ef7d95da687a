"""Parameters of a simulated fleet (:class:`SimConfig`) and a run's summary (:class:`SimSummary`).

Every behaviour the simulator models has a knob here, with a default chosen to look like a real
connected-car fleet; the defaults are documented in ``docs/simulator.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

#: the bundled real-data extracts (see data/reference/SOURCE.md)
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "reference"


@dataclass(frozen=True)
class Region:
    """A circle of the world the fleet lives in, with its IANA time zone."""

    name: str
    lat: float
    lon: float
    radius_km: float
    tz: str


#: regions with real station positions in data/reference (AFDC Massachusetts)
REGIONS: dict[str, Region] = {
    "boston": Region("boston", 42.3601, -71.0589, 12.0, "America/New_York"),
    "greater-boston": Region("greater-boston", 42.36, -71.15, 30.0, "America/New_York"),
    "massachusetts": Region("massachusetts", 42.25, -71.80, 160.0, "America/New_York"),
}


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. All shares are fractions in [0, 1]."""

    out: str = "data/sim"
    vehicles: int = 400
    #: session days simulated; landing days are the same calendar days (UTC)
    days: int = 21
    #: first session day (local); the default period crosses the end of US daylight saving time
    start: dt.date = dt.date(2026, 10, 20)
    seed: int = 0
    region: str = "boston"
    #: override the region's radius
    radius_km: float | None = None
    reference_dir: str = str(REFERENCE_DIR)

    # ---- fleet -----------------------------------------------------------------------------
    #: home charging: own charger at a single-family home / charger in an apartment garage
    share_single_family: float = 0.55
    share_apartment: float = 0.25  # the rest has no home charger
    #: of the apartment dwellers, share with a private charger in the garage (Trondheim: 80 %)
    share_garage_private: float = 0.8
    share_workplace: float = 0.15
    share_opted_out: float = 0.03
    #: mean vehicles per apartment garage / per workplace
    garage_mean_vehicles: float = 6.0
    workplace_mean_vehicles: float = 15.0
    #: residential neighbourhoods (grids of lots); fixed, so density grows with the fleet
    neighbourhoods: int = 150
    lots_per_side: int = 60
    lot_spacing_m: float = 20.0
    #: share of single-family vehicles living with another EV (one home charger, two vehicles)
    share_two_ev_homes: float = 0.15
    #: share of out-of-home sessions that are visits to a friend's home charger
    share_home_visits: float = 0.03
    #: the friend's home: among friend_pool single-family homes drawn at random across the
    #: region, one drawn with weight 1 / (1 + (d / friend_scale_m)^2) (a gravity law: most
    #: friends a few km away, median ~3 km, no home favoured for where it sits; 60k-vehicle seed
    #: 113: at most 11 vehicles befriend one home, p99 7)
    friend_pool: int = 64
    friend_scale_m: float = 2000.0
    #: the older models instead: one of the friend_candidates homes nearest the vehicle's
    #: residence (20: sessions 3-17, median 100 m away, homes at a neighbourhood's edge
    #: befriended by up to 245 vehicles; 1: sessions 1-2, the nearest home). None: gravity
    friend_candidates: int | None = None
    #: share of single-family homes placed 30-80 m from a public station
    share_home_near_station: float = 0.03
    #: public stations opening / closing during the period
    share_opening: float = 0.04
    share_closing: float = 0.03
    #: public stations listed in registry.csv
    share_registry: float = 0.6

    # ---- behaviour (sessions per vehicle-day, before a per-vehicle lognormal activity factor) --
    home_rate: float = 0.6
    garage_rate: float = 0.5
    public_rate_with_home: float = 0.12
    public_rate_without_home: float = 0.6
    workplace_rate: float = 0.5  # per weekday
    #: public sessions at a station away from the vehicle's usual ones
    share_travel: float = 0.08
    #: nearest public stations a vehicle chooses from
    favourites: int = 8

    # ---- telemetry -------------------------------------------------------------------------
    #: GPS error mixture: share and sigma (m) of the "tens of metres" and outlier components
    gps_sigma_m: float = 4.0
    share_gps_poor: float = 0.12
    gps_poor_sigma_m: float = 20.0
    share_gps_outlier: float = 0.015
    #: uploads later than the plug-out day: share and max lag (days)
    share_late: float = 0.3
    max_late_days: int = 20
    share_duplicate: float = 0.02
    corrupt_share: float = 0.01

    def with_(self, **changes: object) -> SimConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def region_spec(self) -> Region:
        """The :class:`Region`, with ``radius_km`` applied."""
        r = REGIONS[self.region]
        return dataclasses.replace(r, radius_km=self.radius_km) if self.radius_km else r

    @property
    def last_day(self) -> dt.date:
        """Last session day, which is also the last landing day written."""
        return self.start + dt.timedelta(days=self.days - 1)


@dataclass(frozen=True)
class SimSummary:
    """What a simulation wrote (also saved as ``truth/summary.json``)."""

    out: str
    vehicles: int
    sessions: int
    rows_written: int
    duplicates: int
    corrupted: int
    opted_out_rows: int
    not_yet_received: int
    files: int
    landing_days: int
    last_day: str
    stations: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
