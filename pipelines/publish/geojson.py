"""RFC 7946 GeoJSON of the published sites: deterministic bytes, validated before publishing.

* a ``FeatureCollection`` with a ``bbox``, no ``crs`` member (RFC 7946 §4: always WGS84 lon/lat);
* one ``Point`` feature per site, ``[lon, lat]`` rounded to :data:`COORD_DECIMALS` decimals;
* top-level string ``"id"`` equal to ``properties.site_id``; features sorted by ``site_id``;
* properties in the fixed order of :data:`pipelines.schema.PUBLISHED_PROPERTIES`, then
  :data:`GEOJSON_EXTRA_PROPERTIES` where the input has them; NaN/NA become ``null``;
* compact separators, UTF-8, a trailing newline.
"""

from __future__ import annotations

import json
from typing import IO, Any

import fastjsonschema
import numpy as np
import pandas as pd

from pipelines.publish.errors import PublishError
from pipelines.schema import PUBLISHED_PROPERTIES, SITE_STATUSES

__all__ = [
    "COORD_DECIMALS",
    "GEOJSON_EXTRA_PROPERTIES",
    "GEOJSON_SCHEMA",
    "GeoJSONValidationError",
    "feature_collection",
    "to_geojson",
    "validate_geojson",
    "write_geojson",
]

#: at most 7 decimals (~1 cm): more is noise, fewer than 6 moves a site by up to 5 cm
COORD_DECIMALS: int = 7

#: analyst columns also carried by the GeoJSON (kept small: the GeoParquet has them all)
GEOJSON_EXTRA_PROPERTIES: tuple[str, ...] = ("max_power_kw",)

_DATE = r"^\d{4}-\d{2}-\d{2}$"

#: strict schema of what we publish (not of GeoJSON in general)
GEOJSON_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["type", "features"],
    "not": {"required": ["crs"]},
    "additionalProperties": False,
    "properties": {
        "type": {"const": "FeatureCollection"},
        "bbox": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "id", "geometry", "properties"],
                "additionalProperties": False,
                "properties": {
                    "type": {"const": "Feature"},
                    "id": {"type": "string", "minLength": 1},
                    "geometry": {
                        "type": "object",
                        "required": ["type", "coordinates"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"const": "Point"},
                            "coordinates": {
                                "type": "array",
                                "minItems": 2,
                                "maxItems": 2,
                                "items": [
                                    {"type": "number", "minimum": -180, "maximum": 180},
                                    {"type": "number", "minimum": -90, "maximum": 90},
                                ],
                            },
                        },
                    },
                    "properties": {
                        "type": "object",
                        "required": list(PUBLISHED_PROPERTIES),
                        # only what we mean to publish: a vehicle or session field fails here
                        "additionalProperties": False,
                        "properties": {
                            "site_id": {"type": "string", "minLength": 1},
                            "status": {"enum": list(SITE_STATUSES)},
                            "sessions": {"type": "integer", "minimum": 0},
                            "vehicles": {"type": "integer", "minimum": 0},
                            "power_class": {"enum": ["dc", "ac", "mixed"]},
                            "first_seen": {"type": "string", "pattern": _DATE},
                            "last_seen": {"type": "string", "pattern": _DATE},
                            "known": {"type": "boolean"},
                            "registry_id": {"type": ["string", "null"]},
                            "max_power_kw": {"type": ["number", "null"]},
                        },
                    },
                },
            },
        },
    },
}

#: compiled once (fastjsonschema: ~50x faster than jsonschema on 100k features)
_VALIDATOR = fastjsonschema.compile(GEOJSON_SCHEMA)


class GeoJSONValidationError(PublishError):
    """The GeoJSON we were about to publish breaks :data:`GEOJSON_SCHEMA` or RFC 7946."""


def feature_collection(sites: pd.DataFrame) -> dict[str, Any]:
    """The sites as a GeoJSON FeatureCollection dict (features sorted by ``site_id``).

    Parameters
    ----------
    sites : pandas.DataFrame
        Columns :data:`PUBLISHED_PROPERTIES`, ``lat``, ``lon``; optionally
        :data:`GEOJSON_EXTRA_PROPERTIES`.
    """
    sites = sites.sort_values("site_id", kind="stable")
    keys = list(PUBLISHED_PROPERTIES) + [c for c in GEOJSON_EXTRA_PROPERTIES if c in sites]
    columns = [column_values(sites[k]) for k in keys]
    lon = np.round(sites["lon"].to_numpy(np.float64), COORD_DECIMALS)
    lat = np.round(sites["lat"].to_numpy(np.float64), COORD_DECIMALS)
    ids = sites["site_id"].astype(str).tolist()
    features = [
        {
            "type": "Feature",
            "id": site_id,
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": dict(zip(keys, row, strict=True)),
        }
        for site_id, x, y, row in zip(
            ids, lon.tolist(), lat.tolist(), zip(*columns, strict=True), strict=True
        )
    ]
    fc: dict[str, Any] = {"type": "FeatureCollection"}
    if len(features):
        fc["bbox"] = [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]
    fc["features"] = features
    return fc


def validate_geojson(fc: dict[str, Any]) -> None:
    """Raise :class:`GeoJSONValidationError` unless ``fc`` is what we may publish.

    Checks :data:`GEOJSON_SCHEMA` (lon/lat ranges, no ``crs``, string ids, required properties,
    no property beyond the published ones) plus what a schema cannot say: ``id`` equals
    ``properties.site_id`` and ids are unique.
    """
    if isinstance(fc, dict) and "crs" in fc:
        raise GeoJSONValidationError("invalid GeoJSON: RFC 7946 forbids a crs member")
    try:
        _VALIDATOR(fc)
    except fastjsonschema.JsonSchemaValueException as e:
        value = repr(e.value)
        value = value if len(value) <= 60 else value[:57] + "..."
        raise GeoJSONValidationError(f"invalid GeoJSON: {e.message} (got {value})") from None
    ids = [f["id"] for f in fc["features"]]
    for f in fc["features"]:
        if f["id"] != f["properties"]["site_id"]:
            raise GeoJSONValidationError(
                f"feature id {f['id']!r} differs from its site_id {f['properties']['site_id']!r}"
            )
    if len(set(ids)) != len(ids):
        raise GeoJSONValidationError("duplicate site_id in the published features")


def to_geojson(sites: pd.DataFrame, *, validate: bool = True) -> bytes:
    """Deterministic RFC 7946 bytes of the sites, validated unless ``validate=False``."""
    fc = feature_collection(sites)
    if validate:
        validate_geojson(fc)
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def write_geojson(sites: pd.DataFrame, f: IO[bytes]) -> int:
    """Write :func:`to_geojson` bytes to a binary file-like object; return the byte count."""
    data = to_geojson(sites)
    f.write(data)
    return len(data)


def column_values(column: pd.Series) -> list[Any]:
    """A column as JSON-ready Python values: numpy scalars unwrapped, NaN/NA/None -> None."""
    dtype = column.dtype
    if dtype.kind in "biu":
        return column.to_numpy().tolist()
    if dtype.kind == "f":
        values = column.to_numpy()
        # float32 (the lake's power, energy): its shortest decimal, 18.3 and not 18.299999237…
        values = values.astype(str).astype(np.float64) if values.dtype == np.float32 else values
        values = values.astype(np.float64)
        out: list[Any] = values.tolist()
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            out[i] = None
        return out
    obj = column.astype(object)
    out = obj.where(obj.notna(), None).tolist()
    if set(map(type, out)) <= _JSON_NATIVE:
        return out
    return [_plain(v) for v in out]


_JSON_NATIVE = {str, bool, int, float, type(None)}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
