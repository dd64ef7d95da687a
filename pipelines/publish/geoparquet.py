"""GeoParquet 1.1 of the published sites, for analysts: every analyst-facing column, WKB points.

Written with pyarrow directly (no pandas metadata, no timestamps), so the same sites give the
same bytes. The ``geo`` file metadata names ``geometry`` as the primary WKB column with an explicit
PROJJSON CRS (OGC:CRS84, i.e. WGS84 lon/lat) and the data's bbox.
"""

from __future__ import annotations

import io
import json
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from pipelines.schema import PUBLISHED_PROPERTIES

__all__ = [
    "CRS84_PROJJSON",
    "PRIVATE_COLUMNS",
    "parquet_columns",
    "to_geoparquet",
    "write_geoparquet",
]

#: never published, whatever the caller passes (contract §3: no vehicle id, no session)
PRIVATE_COLUMNS: frozenset[str] = frozenset(
    {
        "vehicle",
        "vehicle_id",
        "vehicle_ids",
        "vkey",
        "session_id",
        "session_ids",
        "cluster",
    }
)

#: what a pseudonymised vehicle id looks like in the lake (HMAC-SHA256, hex)
_PSEUDONYM = r"^[0-9a-f]{64}$"

#: OGC:CRS84 as PROJJSON, written out so the bytes do not depend on the installed PROJ version
CRS84_PROJJSON: dict[str, Any] = {
    "$schema": "https://proj.org/schemas/v0.7/projjson.schema.json",
    "type": "GeographicCRS",
    "name": "WGS 84 (CRS84)",
    "datum": {
        "type": "GeodeticReferenceFrame",
        "name": "World Geodetic System 1984",
        "ellipsoid": {
            "name": "WGS 84",
            "semi_major_axis": 6378137,
            "inverse_flattening": 298.257223563,
        },
    },
    "coordinate_system": {
        "subtype": "ellipsoidal",
        "axis": [
            {
                "name": "Geodetic longitude",
                "abbreviation": "Lon",
                "direction": "east",
                "unit": "degree",
            },
            {
                "name": "Geodetic latitude",
                "abbreviation": "Lat",
                "direction": "north",
                "unit": "degree",
            },
        ],
    },
    "id": {"authority": "OGC", "code": "CRS84"},
}


def parquet_columns(sites: pd.DataFrame) -> list[str]:
    """Columns written, in order: published properties, other analyst columns A-Z, lon, lat.

    Extra columns are kept when they are boolean, numeric, datetime or all-string, and are not
    in :data:`PRIVATE_COLUMNS` (nor named like ``vehicle_*``/``session_*``). Text columns are
    also dropped when their name mentions a vehicle or session, or when any value looks like a
    vehicle pseudonym (64 hex digits): aggregates such as ``top_vehicle_share`` stay, ids never
    leave.
    """
    fixed = set(PUBLISHED_PROPERTIES) | {"lon", "lat", "geometry"}
    extras = sorted(c for c in map(str, sites.columns) if c not in fixed and _publishable(sites, c))
    return [*PUBLISHED_PROPERTIES, *extras, "lon", "lat"]


def to_geoparquet(sites: pd.DataFrame) -> bytes:
    """GeoParquet bytes of the sites, rows sorted by ``site_id``."""
    buf = io.BytesIO()
    write_geoparquet(sites, buf)
    return buf.getvalue()


def write_geoparquet(sites: pd.DataFrame, f: IO[bytes]) -> None:
    """Write the sites as GeoParquet (zstd) to a path-less binary file-like object."""
    sites = sites.sort_values("site_id", kind="stable").reset_index(drop=True)
    columns = parquet_columns(sites)
    table = pa.Table.from_pandas(sites[columns], preserve_index=False)
    lon = sites["lon"].to_numpy(np.float64)
    lat = sites["lat"].to_numpy(np.float64)
    wkb = shapely.to_wkb(shapely.points(lon, lat), output_dimension=2, byte_order=1)
    table = table.append_column("geometry", pa.array(wkb, type=pa.binary()))
    geo: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": ["Point"],
        "crs": CRS84_PROJJSON,
        "edges": "planar",
    }
    if len(sites):
        geo["bbox"] = [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]
    meta = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": geo}}
    table = table.replace_schema_metadata({"geo": json.dumps(meta, separators=(",", ":"))})
    pq.write_table(table, f, compression="zstd", row_group_size=1 << 20)


def _publishable(sites: pd.DataFrame, name: str) -> bool:
    lowered = name.lower()
    if lowered in PRIVATE_COLUMNS or lowered.startswith(("vehicle_", "session_")):
        return False
    column = sites[name]
    if column.dtype.kind in "biufM" or isinstance(column.dtype, pd.BooleanDtype):
        return True
    if not (isinstance(column.dtype, pd.StringDtype) or column.dtype == object):
        return False
    values = column.dropna()
    if not values.map(type).eq(str).all() or "vehicle" in lowered or "session" in lowered:
        return False
    return not values.astype(str).str.match(_PSEUDONYM).any()
