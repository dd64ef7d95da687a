"""The navigation bundle: a PMTiles v3 archive of MVT point tiles, its tile index and the delta.

Tiles (zoom :data:`MIN_ZOOM`..:data:`MAX_ZOOM`, one layer :data:`LAYER`, extent 4096):

* at :data:`MAX_ZOOM` every site is a point in the one tile containing it, with all
  :data:`FULL_PROPERTIES`;
* below it, sites are thinned on a grid: each tile is cut into ``2**CLUSTER_BITS`` squared cells
  and each occupied cell shows one representative, the site with the most sessions (ties: the
  smallest ``site_id``), with :data:`LOW_ZOOM_PROPERTIES` and ``point_count`` = sites in the cell.
  A tile therefore never holds more than ``4**CLUSTER_BITS`` features.

Everything is computed with numpy per zoom level, MVT encoding included
(:func:`geo.tiles.encode_point_tiles`); the only Python loops run over zooms and tiles. Bytes
are deterministic: tiles are gzipped with ``mtime=0``, the archive is written in tile-id order,
its metadata holds no time.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pmtiles.tile import Compression, Entry, TileType, serialize_header
from pmtiles.writer import finalize_header

from geo.tiles import (
    EXTENT,
    encode_point_layer,
    encode_point_tiles,
    global_pixels,
    value_field,
    zxy_to_tileid,
)
from pipelines.publish.geojson import GEOJSON_EXTRA_PROPERTIES, column_values
from pipelines.schema import PUBLISHED_PROPERTIES

__all__ = [
    "CLUSTER_BITS",
    "LAYER",
    "MAX_ZOOM",
    "MIN_ZOOM",
    "PMTILES_NAME",
    "NavTile",
    "build_pmtiles",
    "build_tiles",
    "site_delta",
    "tile_delta",
]

LAYER: str = "charge_sites"
MIN_ZOOM: int = 0
#: navigation units look sites up at street level; z14 tiles are ~2.4 km wide at the equator
MAX_ZOOM: int = 14
#: 32 x 32 thinning cells per tile below MAX_ZOOM (128 tile units, ~16 px on a 512 px tile)
CLUSTER_BITS: int = 5
PMTILES_NAME: str = "charge_sites.pmtiles"

FULL_PROPERTIES: tuple[str, ...] = PUBLISHED_PROPERTIES
LOW_ZOOM_PROPERTIES: tuple[str, ...] = ("site_id", "status", "power_class", "sessions", "known")

_FIELD_TYPES = {
    "site_id": "String",
    "status": "String",
    "sessions": "Number",
    "vehicles": "Number",
    "power_class": "String",
    "first_seen": "String",
    "last_seen": "String",
    "known": "Boolean",
    "registry_id": "String",
    "point_count": "Number",
}


@dataclass(frozen=True)
class NavTile:
    """One encoded tile: its address, PMTiles id and gzipped MVT bytes."""

    z: int
    x: int
    y: int
    tile_id: int
    data: bytes

    @property
    def key(self) -> str:
        """``"z/x/y"``, the tile's name in the manifest and delta."""
        return f"{self.z}/{self.x}/{self.y}"


def build_tiles(sites: pd.DataFrame) -> list[NavTile]:
    """Encode the sites into MVT tiles for every zoom, sorted by PMTiles tile id.

    Parameters
    ----------
    sites : pandas.DataFrame
        One row per site with ``lon``, ``lat`` and :data:`FULL_PROPERTIES`; unique ``site_id``.

    Returns
    -------
    list of NavTile
        Only tiles holding at least one site; with no sites, one empty zoom-0 tile.
    """
    sites = sites.sort_values("site_id", kind="stable").reset_index(drop=True)
    n = len(sites)
    if n == 0:
        empty = encode_point_layer(LAYER, [], [], [], list(FULL_PROPERTIES))
        return [NavTile(0, 0, 0, 0, _gzip(empty))]
    lon = sites["lon"].to_numpy(np.float64)
    lat = sites["lat"].to_numpy(np.float64)
    values = _ValueTable()
    full_codes = np.column_stack([values.codes(column_values(sites[k])) for k in FULL_PROPERTIES])
    low_codes = full_codes[:, [FULL_PROPERTIES.index(k) for k in LOW_ZOOM_PROPERTIES]]
    # priority: most sessions first, then site_id (rows are sorted by site_id already)
    priority = np.empty(n, dtype=np.int64)
    priority[np.lexsort((np.arange(n), -sites["sessions"].to_numpy(np.int64)))] = np.arange(n)

    tiles: list[NavTile] = []
    for z in range(MIN_ZOOM, MAX_ZOOM + 1):
        gx, gy = global_pixels(lon, lat, z, EXTENT)
        if z == MAX_ZOOM:
            members = np.arange(n)
            codes = full_codes
            keys = list(FULL_PROPERTIES)
        else:
            members, counts = _thin(gx, gy, priority, z)
            keys = [*LOW_ZOOM_PROPERTIES, "point_count"]
            codes = np.empty((n, len(keys)), dtype=np.int64)
            codes[members] = np.column_stack([low_codes[members], values.codes(counts.tolist())])
        tiles.extend(_encode_zoom(z, gx, gy, members, priority, codes, keys, values.fields))
    tiles.sort(key=lambda t: t.tile_id)
    return tiles


class _ValueTable:
    """Distinct property values (by type and value) across all keys, with their MVT bytes."""

    def __init__(self) -> None:
        self.index: dict[tuple[type, Any], int] = {}
        self.fields: list[bytes] = []

    def codes(self, values: list[Any]) -> np.ndarray:
        """Global value index per element, -1 for None/NaN."""
        local, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        mapping = np.array([self._add(u) for u in uniques.tolist()] + [-1], dtype=np.int64)
        return mapping[local]  # -1 (missing) picks the trailing -1

    def _add(self, value: Any) -> int:
        key = (value.__class__, value)
        g = self.index.get(key)
        if g is None:
            g = self.index[key] = len(self.fields)
            self.fields.append(value_field(value))
        return g


def _thin(
    gx: np.ndarray, gy: np.ndarray, priority: np.ndarray, z: int
) -> tuple[np.ndarray, np.ndarray]:
    """Representatives (row indices) of the occupied grid cells and the sites per cell."""
    shift = int(np.log2(EXTENT)) - CLUSTER_BITS
    cell = (gx >> shift) * (np.int64(1) << (z + CLUSTER_BITS)) + (gy >> shift)
    order = np.lexsort((priority, cell))
    cell_sorted = cell[order]
    first = np.flatnonzero(np.r_[True, cell_sorted[1:] != cell_sorted[:-1]])
    counts = np.diff(np.r_[first, len(order)])
    return order[first], counts


def _encode_zoom(
    z: int,
    gx: np.ndarray,
    gy: np.ndarray,
    members: np.ndarray,
    priority: np.ndarray,
    codes: np.ndarray,
    keys: list[str],
    value_fields: list[bytes],
) -> list[NavTile]:
    """Group the member sites by tile (features by priority inside) and encode every tile."""
    tx, ty = gx[members] // EXTENT, gy[members] // EXTENT
    tid = zxy_to_tileid(z, tx, ty).astype(np.int64)
    order = np.lexsort((priority[members], tid))
    tid_sorted = tid[order]
    starts = np.flatnonzero(np.r_[True, tid_sorted[1:] != tid_sorted[:-1]])
    rows = members[order]
    encoded = encode_point_tiles(
        LAYER,
        keys,
        np.r_[starts, len(order)],
        gx[rows] % EXTENT,
        gy[rows] % EXTENT,
        codes[rows],
        value_fields,
    )
    first = order[starts]
    xs, ys, ids = tx[first].tolist(), ty[first].tolist(), tid_sorted[starts].tolist()
    return [
        NavTile(z, x, y, t, _gzip(data)) for x, y, t, data in zip(xs, ys, ids, encoded, strict=True)
    ]


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def pmtiles_metadata() -> dict[str, Any]:
    """The archive's JSON metadata (TileJSON-like ``vector_layers``; no time, no run data)."""
    return {
        "name": "chargepoints charge sites",
        "description": "Public EV charge sites discovered from connected-car charge logs",
        "format": "pbf",
        "type": "overlay",
        "vector_layers": [
            {
                "id": LAYER,
                "minzoom": MIN_ZOOM,
                "maxzoom": MAX_ZOOM,
                "fields": dict(sorted(_FIELD_TYPES.items())),
            }
        ],
        "chargepoints": {
            "full_properties_zoom": MAX_ZOOM,
            "thinning_cells_per_tile_side": 1 << CLUSTER_BITS,
            "low_zoom_properties": [*LOW_ZOOM_PROPERTIES, "point_count"],
        },
    }


def build_pmtiles(
    tiles: list[NavTile], bounds: tuple[float, float, float, float] | None
) -> tuple[bytes, dict[str, list[Any]]]:
    """Write a PMTiles v3 archive of gzipped MVT tiles.

    Parameters
    ----------
    tiles : list of NavTile
        Sorted by tile id (as :func:`build_tiles` returns them).
    bounds : (west, south, east, north) or None
        Data bounds for the header; ``None`` for the whole world.

    Returns
    -------
    archive : bytes
    index : dict
        ``"z/x/y" -> [offset, length, sha256 hex]`` of every tile, offsets absolute in the
        archive, in tile-id order: a client range-requests exactly the tiles it needs.
    """
    entries: list[Entry] = []
    content_offset: dict[bytes, int] = {}
    chunks: list[bytes] = []
    offset = 0
    placed: list[tuple[NavTile, int]] = []
    for t in tiles:
        found = content_offset.get(t.data)
        if found is None:
            found = content_offset[t.data] = offset
            chunks.append(t.data)
            offset += len(t.data)
            entries.append(Entry(t.tile_id, found, len(t.data), 1))
        elif (
            entries
            and entries[-1].offset == found
            and entries[-1].tile_id + entries[-1].run_length == t.tile_id
        ):
            entries[-1].run_length += 1
        else:
            entries.append(Entry(t.tile_id, found, len(t.data), 1))
        placed.append((t, found))
    west, south, east, north = bounds if bounds is not None else (-180.0, -85.0, 180.0, 85.0)
    header: dict[str, Any] = {
        "tile_compression": Compression.GZIP,
        "tile_type": TileType.MVT,
        "min_lon_e7": round(west * 1e7),
        "min_lat_e7": round(south * 1e7),
        "max_lon_e7": round(east * 1e7),
        "max_lat_e7": round(north * 1e7),
        "center_zoom": MIN_ZOOM,
        "center_lon_e7": round((west + east) / 2 * 1e7),
        "center_lat_e7": round((south + north) / 2 * 1e7),
    }
    _, root, metadata, leaves = finalize_header(
        header, len(tiles), entries, len(chunks), pmtiles_metadata(), True, offset
    )
    # declare the bundle's zoom range even when few (or no) sites leave upper zooms empty
    header["min_zoom"], header["max_zoom"] = MIN_ZOOM, MAX_ZOOM
    archive = b"".join([serialize_header(header), root, metadata, leaves, *chunks])
    base = header["tile_data_offset"]
    index = {
        t.key: [base + off, len(t.data), hashlib.sha256(t.data).hexdigest()] for t, off in placed
    }
    return archive, index


def site_delta(previous: pd.DataFrame | None, current: pd.DataFrame) -> dict[str, list[str]]:
    """Site ids added, removed and changed since the previous published day.

    ``changed``: present on both days with a different position or any differing value of the
    columns both days publish among :data:`FULL_PROPERTIES` and the GeoJSON extras.
    """
    cur_ids = current["site_id"].astype(str)
    if previous is None or previous.empty:
        return {"added": sorted(cur_ids), "removed": [], "changed": []}
    prev_ids = previous["site_id"].astype(str)
    added = sorted(set(cur_ids) - set(prev_ids))
    removed = sorted(set(prev_ids) - set(cur_ids))
    compare = [
        c
        for c in (*FULL_PROPERTIES, *GEOJSON_EXTRA_PROPERTIES, "lon", "lat")
        if c != "site_id" and c in current.columns and c in previous.columns
    ]
    both = current[["site_id", *compare]].merge(
        previous[["site_id", *compare]], on="site_id", suffixes=("", "_prev")
    )
    differs = np.zeros(len(both), dtype=bool)
    for c in compare:
        a, b = both[c].astype(object), both[f"{c}_prev"].astype(object)
        same = (a == b) | (a.isna() & b.isna())
        differs |= ~same.to_numpy(bool)
    changed = sorted(both.loc[differs, "site_id"].astype(str))
    return {"added": added, "removed": removed, "changed": changed}


def tile_delta(
    previous: dict[str, list[Any]] | None, current: dict[str, list[Any]]
) -> dict[str, Any]:
    """Tiles a client holding the previous archive must re-fetch (with their byte ranges and
    hashes in the new archive) and tiles it must drop."""
    previous = previous or {}
    changed = {k: v for k, v in current.items() if k not in previous or previous[k][2] != v[2]}
    removed = [k for k in previous if k not in current]
    return {"changed": changed, "removed": removed}
