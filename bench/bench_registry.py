"""Time of the registry step of discover (:func:`pipelines.registry.confirm_known`) at scale.

Run: ``.venv/bin/python -m bench.bench_registry [--sizes 50000 500000]``

Sites are uniform over a 45 x 40 km box around Boston with random classes and vehicle counts;
the registry lists one site in ten, geocoded 8 m off per axis (as the simulator's). A daily run
of a simulated 60k-vehicle fleet has ~18k sites in its window and ~300 registry entries nearby,
so the first size is beyond a real region's and the second a margin for a country.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from pipelines.config import RegistryParams
from pipelines.registry import confirm_known

CLASSES = ("public", "residential", "unconfirmed", "workplace", "private", "too_few_vehicles")
M_PER_DEG = 111_195.0


def bench(n_sites: int, seed: int = 0) -> str:
    """One line: sites, registry entries, seconds, confirmed, peak RSS of the process."""
    rng = np.random.default_rng(seed)
    lat = 42.36 + rng.uniform(-0.2, 0.2, n_sites)
    lon = -71.06 + rng.uniform(-0.25, 0.25, n_sites)
    sites = pd.DataFrame(
        {
            "lat": lat,
            "lon": lon,
            "vehicles": rng.integers(1, 30, n_sites),
            "site_class": rng.choice(CLASSES, n_sites),
            "reasons": "",
        }
    )
    n_reg = n_sites // 10
    at = rng.choice(n_sites, n_reg, replace=False)
    east, north = rng.normal(0.0, 8.0, (2, n_reg))
    registry = pd.DataFrame(
        {
            "registry_id": [f"R{i}" for i in range(n_reg)],
            "lat": lat[at] + north / M_PER_DEG,
            "lon": lon[at] + east / (M_PER_DEG * np.cos(np.radians(lat[at]))),
        }
    )
    t = time.perf_counter()
    _, confirmed = confirm_known(sites, registry, RegistryParams(), min_vehicles=3)
    secs = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return f"| {n_sites:,} | {n_reg:,} | {secs:.3f} | {confirmed:,} | {rss:,.0f} |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50_000, 500_000])
    a = ap.parse_args(argv)
    print("| sites | registry entries | confirm_known s | confirmed | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|")
    for n in a.sizes:
        print(bench(n), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
