"""GeoJSON output: RFC 7946, deterministic, validated, readable by GDAL (pyogrio/geopandas)."""

from __future__ import annotations

import copy
import io
import json
import re

import geopandas as gpd
import jsonschema
import numpy as np
import pandas as pd
import pytest

from pipelines.publish import prepare_sites
from pipelines.publish.geojson import (
    GEOJSON_SCHEMA,
    GeoJSONValidationError,
    feature_collection,
    to_geojson,
    validate_geojson,
    write_geojson,
)
from pipelines.schema import PUBLISHED_PROPERTIES


def test_rfc7946_shape(few_sites):
    """Expected (fixture docstring): ids sorted, bbox over the five sites, no crs, lon first."""
    fc = json.loads(to_geojson(prepare_sites(few_sites)))
    assert list(fc) == ["type", "bbox", "features"]
    assert "crs" not in fc
    ids = [f["id"] for f in fc["features"]]
    assert ids == ["a-berlin", "b-tokyo", "c-saopaulo", "d-antimeridian", "e-nearpole"]
    assert fc["bbox"] == [-179.9999999, -23.55, 179.9999999, 84.9]
    berlin = fc["features"][0]
    assert list(berlin) == ["type", "id", "geometry", "properties"]
    assert berlin["geometry"] == {"type": "Point", "coordinates": [13.405, 52.5200001]}
    assert list(berlin["properties"]) == [*PUBLISHED_PROPERTIES, "max_power_kw"]
    assert berlin["properties"]["registry_id"] is None
    assert fc["features"][1]["properties"]["max_power_kw"] is None  # NaN -> null
    for f in fc["features"]:
        assert f["id"] == f["properties"]["site_id"]
        assert "vehicle" not in f["properties"]


def test_at_most_seven_decimals(site_factory):
    text = to_geojson(prepare_sites(site_factory(300, seed=2))).decode()
    coords = re.findall(r'"coordinates":\[([^\]]+)\]', text)
    assert len(coords) == 300
    for pair in coords:
        for number in pair.split(","):
            assert len(number.partition(".")[2]) <= 7, number


def test_bytes_do_not_depend_on_row_order(site_factory):
    sites = prepare_sites(site_factory(200, seed=5))
    shuffled = sites.sample(frac=1.0, random_state=1)
    assert to_geojson(sites) == to_geojson(shuffled)


def test_write_to_file_like_and_read_back_with_gdal(few_sites):
    buf = io.BytesIO()
    n = write_geojson(prepare_sites(few_sites), buf)
    assert n == len(buf.getvalue())
    gdf = gpd.read_file(io.BytesIO(buf.getvalue()))
    assert gdf.crs.to_epsg() == 4326
    assert sorted(gdf["site_id"]) == sorted(few_sites["site_id"])
    tokyo = gdf.loc[gdf["site_id"] == "b-tokyo"].geometry.iloc[0]
    assert (tokyo.x, tokyo.y) == pytest.approx((139.6917, 35.6895))


def test_published_geojson_passes_the_strict_schema_with_stock_jsonschema(site_factory):
    fc = json.loads(to_geojson(prepare_sites(site_factory(100))))
    jsonschema.validate(fc, GEOJSON_SCHEMA, cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda fc: fc.update(crs={"type": "name"}), "crs"),
        (lambda fc: fc["features"][0]["geometry"].update(coordinates=[500000.0, 5800000.0]), "180"),
        (lambda fc: fc["features"][0]["geometry"]["coordinates"].reverse(), "90"),
        (lambda fc: fc["features"][0].update(id=7), "string"),
        (lambda fc: fc["features"][0]["properties"].pop("status"), "status"),
        (lambda fc: fc["features"][0]["properties"].update(vehicle_id="abc"), "vehicle_id"),
        (lambda fc: fc["features"][0]["properties"].update(power_class="fast"), "fast"),
        (lambda fc: fc["features"][0].update(id="other"), "differs"),
        (lambda fc: fc["features"].append(copy.deepcopy(fc["features"][0])), "duplicate"),
    ],
)
def test_validation_rejects_what_we_must_not_publish(few_sites, breakage, message):
    """Each breakage (projected coordinates, swapped lat/lon at Tokyo, a crs member, …) fails."""
    fc = feature_collection(prepare_sites(few_sites))
    fc["features"] = fc["features"][1:2]  # b-tokyo: lon 139.7, so swapping makes lat 139.7
    validate_geojson(copy.deepcopy(fc))
    breakage(fc)
    with pytest.raises(GeoJSONValidationError, match=message):
        validate_geojson(fc)


def test_empty_collection_is_valid():
    """No sites: a valid empty FeatureCollection without bbox."""
    empty = pd.DataFrame({c: [] for c in (*PUBLISHED_PROPERTIES, "lat", "lon")})
    fc = json.loads(to_geojson(prepare_sites(empty)))
    assert fc == {"type": "FeatureCollection", "features": []}


def test_float32_columns_keep_their_short_decimals(few_sites):
    """The lake stores power as float32: 18.3 must not become 18.299999237060547."""
    sites = prepare_sites(few_sites)
    sites["max_power_kw"] = sites["max_power_kw"].astype(np.float32)
    sites.loc[sites.site_id == "a-berlin", "max_power_kw"] = np.float32(18.3)
    fc = json.loads(to_geojson(sites))
    assert fc["features"][0]["properties"]["max_power_kw"] == 18.3
    assert fc["features"][1]["properties"]["max_power_kw"] is None
