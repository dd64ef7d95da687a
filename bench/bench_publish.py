"""Size and time of the published files for 1k, 10k and 100k sites (issue 7).

Run: ``.venv/bin/python -m bench.bench_publish [--sizes 1000 10000 100000] [--markdown]``

Sites are synthetic, drawn as whole arrays: 60 metropolitan areas around the world (site density
falling off over ~15 km, a few sites per km² in the centres) plus 10 % scattered along
"highways" between them, so tiles are as unevenly filled as real ones. For each size it times
(CPU seconds, see ``_timed``) the steps of :func:`pipelines.publish.publish_day` separately and
then the whole call into a temporary local folder, and reports every file's size. A second day
with 1 % of the sites changed, 0.5 % removed and 0.5 % added shows what an incremental client
downloads.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.publish import nav, prepare_sites, publish_day
from pipelines.publish.geojson import to_geojson
from pipelines.publish.geoparquet import to_geoparquet

DAY1, DAY2 = "2026-11-23", "2026-11-24"


def synthetic_sites(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` public sites in 60 metro areas and along the roads between them."""
    rng = np.random.default_rng(seed)
    metros = np.column_stack([rng.uniform(-120, 150, 60), rng.uniform(-40, 60, 60)])
    n_road = n // 10
    pick = rng.integers(0, len(metros), n - n_road)
    spread_deg = rng.exponential(15.0, n - n_road) / 111.0
    angle = rng.uniform(0, 2 * np.pi, n - n_road)
    lon = metros[pick, 0] + spread_deg * np.cos(angle) / np.cos(np.radians(metros[pick, 1]))
    lat = metros[pick, 1] + spread_deg * np.sin(angle)
    a, b = rng.integers(0, len(metros), (2, n_road))
    t = rng.random(n_road)[:, None]
    road = metros[a] * (1 - t) + metros[b] * t
    lon = np.r_[lon, road[:, 0]]
    lat = np.clip(np.r_[lat, road[:, 1]], -80, 80)
    first = pd.Timestamp("2026-06-01") + pd.to_timedelta(rng.integers(0, 150, n), unit="D")
    return pd.DataFrame(
        {
            "site_id": [f"cp{i:07d}" for i in rng.permutation(n)],
            "status": rng.choice(["new", "active", "stale"], n, p=[0.05, 0.85, 0.10]),
            "sessions": rng.zipf(1.6, n).clip(1, 100_000) + 4,
            "vehicles": rng.integers(3, 400, n),
            "power_class": rng.choice(["dc", "ac", "mixed"], n, p=[0.25, 0.6, 0.15]),
            "first_seen": first.strftime("%Y-%m-%d"),
            "last_seen": "2026-11-22",
            "known": rng.random(n) < 0.4,
            "registry_id": np.where(
                rng.random(n) < 0.4, "R" + pd.Series(range(n)).astype(str), None
            ),
            "lat": lat,
            "lon": ((lon + 180) % 360) - 180,
            "max_power_kw": rng.choice([7.4, 11.0, 22.0, 50.0, 150.0, 350.0], n),
        }
    )


def next_day(sites: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """1 % of sites gain sessions, 0.5 % disappear, 0.5 % new ones appear."""
    rng = np.random.default_rng(seed)
    n = len(sites)
    keep = sites.iloc[rng.permutation(n)[: n - n // 200]].copy()
    bump = rng.random(len(keep)) < 0.01
    keep.loc[bump, "sessions"] += 1
    new = synthetic_sites(max(n // 200, 1), seed=seed + 100)
    new["site_id"] = [f"nx{i:07d}" for i in range(len(new))]
    return pd.concat([keep, new], ignore_index=True)


def _timed(fn, *args):
    """Result and CPU seconds of ``fn(*args)``: the work is single-threaded, so on an idle core
    this is the wall time, and it does not count time lost to other jobs on a shared machine."""
    t = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t


def bench_one(n: int) -> dict:
    """Step times and sizes for one size."""
    raw = synthetic_sites(n)
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    sites, t_prep = _timed(prepare_sites, raw)
    geojson, t_geojson = _timed(to_geojson, sites)
    parquet, t_parquet = _timed(to_geoparquet, sites)
    tiles, t_tiles = _timed(nav.build_tiles, sites)
    (archive, index), t_pmtiles = _timed(nav.build_pmtiles, tiles, None)
    with tempfile.TemporaryDirectory() as tmp:
        summary1, t_day1 = _timed(publish_day, raw, DAY1, tmp, key)
        summary2, t_day2 = _timed(publish_day, next_day(raw), DAY2, tmp, key)
        delta = json.loads((Path(tmp) / DAY2 / "nav" / "delta.json").read_bytes())
        refetch = sum(v[1] for v in delta["tiles"]["changed"].values())
        files = summary1["files"]
        delta_bytes = summary2["files"][f"{DAY2}/nav/delta.json"]
    return {
        "sites": n,
        "tiles": len(index),
        "seconds": {
            "prepare": t_prep,
            "geojson (incl. validation)": t_geojson,
            "geoparquet": t_parquet,
            "mvt tiles": t_tiles,
            "pmtiles": t_pmtiles,
            "publish_day (all, first day)": t_day1,
            "publish_day (next day)": t_day2,
        },
        "bytes": {name.split("/", 1)[1]: size for name, size in files.items()},
        "next_day": {
            "added": summary2["added"],
            "removed": summary2["removed"],
            "changed": summary2["changed"],
            "tiles_changed": summary2["tiles_changed"],
            "delta_bytes": delta_bytes,
            "refetch_tile_bytes": refetch,
        },
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pmtiles_bytes": len(archive),
        "geojson_bytes": len(geojson),
        "parquet_bytes": len(parquet),
    }


def markdown(results: list[dict]) -> str:
    """The results as the RESULTS.md table."""
    sizes = [r["sites"] for r in results]
    head = "| | " + " | ".join(f"{n:,} sites" for n in sizes) + " |\n"
    head += "|---|" + "---:|" * len(sizes) + "\n"
    rows = []
    for step in results[0]["seconds"]:
        rows.append(f"| {step} (s) | " + " | ".join(f"{r['seconds'][step]:.2f}" for r in results))
    rows.append("| tiles z0-14 | " + " | ".join(f"{r['tiles']:,}" for r in results))
    rows.append(
        "| peak RSS of the process so far (MB) | "
        + " | ".join(f"{r['peak_rss_mb']:,.0f}" for r in results)
    )
    for name in results[0]["bytes"]:
        rows.append(
            f"| `{name}` (kB) | " + " | ".join(f"{r['bytes'][name] / 1000:,.0f}" for r in results)
        )
    nd = "next_day"
    rows.append(
        "| next day: tiles to re-fetch | "
        + " | ".join(f"{r[nd]['tiles_changed']:,} of {r['tiles']:,}" for r in results)
    )
    rows.append(
        "| next day: delta.json + tiles (kB) | "
        + " | ".join(
            f"{r[nd]['delta_bytes'] / 1000:,.0f} + {r[nd]['refetch_tile_bytes'] / 1000:,.0f}"
            for r in results
        )
    )
    return head + " |\n".join(rows) + " |\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--markdown", action="store_true", help="print the RESULTS.md table")
    args = parser.parse_args(argv)
    results = []
    for n in args.sizes:
        r = bench_one(n)
        results.append(r)
        print(json.dumps(r), flush=True)
    if args.markdown:
        print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
