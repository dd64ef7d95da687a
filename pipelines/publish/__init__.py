"""Publish one day's public charge sites for downstream systems (contract §3).

:func:`publish_day` is the one entry point the daily flow calls. It writes::

    <root>/<day>/charge_sites.geojson        RFC 7946, validated          (geojson.py)
    <root>/<day>/charge_sites.parquet        GeoParquet 1.1               (geoparquet.py)
    <root>/<day>/nav/charge_sites.pmtiles    PMTiles v3 of MVT, z0-14     (nav.py)
    <root>/<day>/nav/delta.json              sites and tiles changed since the previous day
    <root>/<day>/nav/tiles.json              per-tile index: byte range + sha256 of every tile
    <root>/<day>/nav/manifest.json           version, files + sha256 (tiles.json included)
    <root>/<day>/nav/manifest.json.sig       Ed25519 over the manifest's bytes (signing.py)
    <root>/signing_key.pub                   raw public key, base64
    <root>/latest.json                       last, atomically                (target.py)

Consumers: see ``docs/publishing.md`` and the reference client :mod:`pipelines.publish.fetch`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.publish import nav
from pipelines.publish.errors import PublishError
from pipelines.publish.geojson import COORD_DECIMALS, to_geojson
from pipelines.publish.geoparquet import to_geoparquet
from pipelines.publish.signing import public_key_bytes, sign
from pipelines.publish.target import DAY_PATTERN, PublishTarget
from pipelines.schema import PUBLISHED_PROPERTIES

__all__ = ["MANIFEST_FORMAT", "PublishError", "dumps", "prepare_sites", "publish_day"]

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "chargepoints-nav/1"
GEOJSON_NAME = "charge_sites.geojson"
PARQUET_NAME = "charge_sites.parquet"
MANIFEST = "nav/manifest.json"
SIGNATURE = "nav/manifest.json.sig"
DELTA = "nav/delta.json"
TILES_NAME = "tiles.json"
PUBLIC_KEY = "signing_key.pub"
LATEST = "latest.json"


def dumps(obj: Any) -> bytes:
    """Canonical JSON bytes of our small documents: compact, insertion order, UTF-8, newline."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def publish_day(
    sites: pd.DataFrame,
    day: str,
    publish_root: str,
    signing_key: Ed25519PrivateKey,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Publish the public sites of ``day`` under ``publish_root`` and point ``latest.json`` at it.

    Parameters
    ----------
    sites : pandas.DataFrame
        One row per public site: :data:`~pipelines.schema.PUBLISHED_PROPERTIES`, ``lat``,
        ``lon`` and optional analyst columns (numeric/string ones go into the GeoParquet).
    day : str
        The run's date, ``YYYY-MM-DD``.
    publish_root : str
        Local folder or fsspec URL (``s3://bucket/prefix``).
    signing_key : Ed25519PrivateKey
        Signs the nav manifest.
    storage_options : mapping, optional
        fsspec options for ``publish_root``.

    Returns
    -------
    dict
        ``day``, ``previous``, ``sites``, ``added``/``removed``/``changed`` counts,
        ``tiles``/``tiles_changed`` counts, ``latest_updated`` and ``files`` (path -> bytes).

    Notes
    -----
    Same sites and same previous day give byte-identical files. Re-publishing a day replaces it;
    its delta is against the newest complete day strictly before ``day``, so a rerun yields the
    same delta. ``latest.json`` only moves forward: publishing an older day (a backfill) leaves
    it pointing at the newer one.
    """
    if not isinstance(day, str) or not DAY_PATTERN.match(day):
        raise PublishError(f"day must be YYYY-MM-DD, got {day!r}")
    sites = prepare_sites(sites)
    target = PublishTarget(publish_root, storage_options)
    previous = previous_day(target, day)
    prev_sites, prev_tiles = _load_previous(target, previous)

    geojson = to_geojson(sites)
    parquet = to_geoparquet(sites)
    tiles = nav.build_tiles(sites)
    archive, tile_index = nav.build_pmtiles(tiles, _bounds(sites))
    sites_delta = nav.site_delta(prev_sites, sites)
    tiles_delta = nav.tile_delta(prev_tiles, tile_index)
    delta = dumps({"date": day, "previous_version": previous, **sites_delta, "tiles": tiles_delta})
    tiles_json = dumps({"archive": nav.PMTILES_NAME, "tiles": tile_index})

    manifest = dumps(
        {
            "format": MANIFEST_FORMAT,
            "version": day,
            "date": day,
            "previous_version": previous,
            "site_count": len(sites),
            "layer": nav.LAYER,
            "min_zoom": nav.MIN_ZOOM,
            "max_zoom": nav.MAX_ZOOM,
            "tile_count": len(tile_index),
            "tile_index": TILES_NAME,
            "files": [
                _entry(nav.PMTILES_NAME, archive),
                _entry(TILES_NAME, tiles_json),
                _entry("delta.json", delta),
            ],
            "day_files": [_entry(GEOJSON_NAME, geojson), _entry(PARQUET_NAME, parquet)],
        }
    )
    files = {
        GEOJSON_NAME: geojson,
        PARQUET_NAME: parquet,
        f"nav/{nav.PMTILES_NAME}": archive,
        f"nav/{TILES_NAME}": tiles_json,
        DELTA: delta,
        MANIFEST: manifest,
        SIGNATURE: sign(manifest, signing_key),
    }
    target.put_day(day, files)

    public = public_key_bytes(signing_key)
    old_public = target.read_bytes(PUBLIC_KEY)
    if old_public is not None and old_public.strip() != public.strip():
        log.warning("publishing key changed: %s replaced", target.path(PUBLIC_KEY))
    if old_public != public:
        target.put_atomic(PUBLIC_KEY, public)

    current = _latest_date(target)
    latest_updated = current is None or current <= day
    if latest_updated:
        target.put_atomic(
            LATEST,
            dumps(
                {
                    "date": day,
                    "manifest": f"{day}/{MANIFEST}",
                    "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
                    "signature": f"{day}/{SIGNATURE}",
                    "public_key": PUBLIC_KEY,
                    "site_count": len(sites),
                }
            ),
        )
    return {
        "day": day,
        "previous": previous,
        "sites": len(sites),
        "added": len(sites_delta["added"]),
        "removed": len(sites_delta["removed"]),
        "changed": len(sites_delta["changed"]),
        "tiles": len(tile_index),
        "tiles_changed": len(tiles_delta["changed"]),
        "latest_updated": latest_updated,
        "files": {f"{day}/{name}": len(data) for name, data in files.items()},
    }


def prepare_sites(sites: pd.DataFrame) -> pd.DataFrame:
    """Check the sites and normalise them for publishing.

    Sorted by ``site_id``, positions rounded to 7 decimals (the same numbers in every file),
    ``site_id`` as str. Raises :class:`PublishError` on missing columns, duplicate or empty ids,
    or positions outside WGS84 ranges.
    """
    missing = [c for c in (*PUBLISHED_PROPERTIES, "lat", "lon") if c not in sites.columns]
    if missing:
        raise PublishError(f"sites lack column(s): {', '.join(missing)}")
    out = sites.copy()
    if out["site_id"].isna().any():
        raise PublishError("a site has no site_id")
    out["site_id"] = out["site_id"].astype(str)
    for column, dtype in (("sessions", np.int64), ("vehicles", np.int64), ("known", bool)):
        out[column] = _lossless(out, column, dtype)
    if out["site_id"].duplicated().any():
        dup = out.loc[out["site_id"].duplicated(), "site_id"].iloc[0]
        raise PublishError(f"duplicate site_id {dup!r}")
    if (out["site_id"] == "").any():
        raise PublishError("empty site_id")
    lon = out["lon"].to_numpy(np.float64)
    lat = out["lat"].to_numpy(np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PublishError(
            f"site {out['site_id'].iloc[i]!r} has no valid WGS84 position ({lon[i]}, {lat[i]})"
        )
    out["lon"] = np.round(lon, COORD_DECIMALS)
    out["lat"] = np.round(lat, COORD_DECIMALS)
    return out.sort_values("site_id", kind="stable").reset_index(drop=True)


def _lossless(sites: pd.DataFrame, column: str, dtype: type) -> pd.Series:
    """``column`` as ``dtype`` when that changes no value (e.g. 5.0 -> 5, nullable -> numpy),
    else :class:`PublishError` naming the first offending site."""
    values = sites[column]
    bad = values.isna()
    if not bad.any():
        try:
            converted = values.astype(dtype)
            bad = converted != values
            if not bad.any():
                return converted
        except (TypeError, ValueError):
            bad = pd.Series(True, index=values.index)
    site = sites.loc[bad, "site_id"].iloc[0]
    raise PublishError(
        f"column {column!r} must be {np.dtype(dtype).name} without gaps; "
        f"site {site!r} has {values[bad].iloc[0]!r}"
    )


def previous_day(target: PublishTarget, day: str) -> str | None:
    """The newest completely published day strictly before ``day`` (its signature exists)."""
    for earlier in reversed([d for d in target.days() if d < day]):
        if target.exists(f"{earlier}/{SIGNATURE}"):
            return earlier
    return None


def _load_previous(
    target: PublishTarget, previous: str | None
) -> tuple[pd.DataFrame | None, dict[str, list[Any]] | None]:
    if previous is None:
        return None, None
    data = target.read_bytes(f"{previous}/{PARQUET_NAME}")
    index = target.read_bytes(f"{previous}/nav/{TILES_NAME}")
    prev_sites = None
    if data is not None:
        table = pq.read_table(io.BytesIO(data))
        prev_sites = table.drop_columns(["geometry"]).to_pandas()
    tiles = json.loads(index).get("tiles") if index is not None else None
    return prev_sites, tiles


def _latest_date(target: PublishTarget) -> str | None:
    data = target.read_bytes(LATEST)
    if data is None:
        return None
    try:
        return str(json.loads(data)["date"])
    except (ValueError, KeyError, TypeError):
        return None


def _bounds(sites: pd.DataFrame) -> tuple[float, float, float, float] | None:
    if sites.empty:
        return None
    lon, lat = sites["lon"], sites["lat"]
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def _entry(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
