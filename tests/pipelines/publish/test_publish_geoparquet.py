"""GeoParquet output read back with pyarrow and geopandas (other authors' readers)."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import shapely

from pipelines.publish import prepare_sites
from pipelines.publish.geoparquet import to_geoparquet, write_geoparquet
from pipelines.schema import PUBLISHED_PROPERTIES


def test_geo_metadata_and_wkb_points(few_sites):
    """Expected: geo 1.1.0 metadata, primary column ``geometry``, WKB Points, CRS84, bbox."""
    table = pq.read_table(io.BytesIO(to_geoparquet(prepare_sites(few_sites))))
    geo = json.loads(table.schema.metadata[b"geo"])
    assert geo["version"] == "1.1.0" and geo["primary_column"] == "geometry"
    col = geo["columns"]["geometry"]
    assert col["encoding"] == "WKB" and col["geometry_types"] == ["Point"]
    assert col["crs"]["id"] == {"authority": "OGC", "code": "CRS84"}
    assert col["bbox"] == [-179.9999999, -23.55, 179.9999999, 84.9]
    assert set(table.schema.metadata) == {b"geo"}  # no pandas metadata, nothing time-dependent
    points = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    assert (shapely.get_type_id(points) == 0).all()
    assert table.column("site_id").to_pylist() == sorted(few_sites["site_id"])
    berlin = points[0]
    assert (berlin.x, berlin.y) == (13.405, 52.5200001)


def test_geopandas_reads_crs_and_columns(few_sites):
    buf = io.BytesIO()
    write_geoparquet(prepare_sites(few_sites), buf)
    buf.seek(0)
    gdf = gpd.read_parquet(buf)
    assert gdf.crs.to_string() == "OGC:CRS84"
    assert gdf.crs.equals("EPSG:4326", ignore_axis_order=True)
    assert list(gdf.columns) == [*PUBLISHED_PROPERTIES, "max_power_kw", "lon", "lat", "geometry"]
    assert "vehicle" not in gdf.columns  # the pseudonymous id column of the fixture is dropped
    assert gdf["known"].dtype == bool and gdf["sessions"].dtype == np.int64
    assert (gdf.geometry.x == gdf["lon"]).all() and (gdf.geometry.y == gdf["lat"]).all()


def test_analyst_columns_kept_private_and_run_local_ones_dropped(site_factory):
    """``site_class`` and ``max_power_kw`` are kept; ``cluster`` (this run's label) is not."""
    gdf = gpd.read_parquet(io.BytesIO(to_geoparquet(prepare_sites(site_factory(50)))))
    assert {"site_class", "max_power_kw"} <= set(gdf.columns)
    assert "cluster" not in gdf.columns
    assert gdf["max_power_kw"].isna().any()


def test_bytes_are_deterministic(site_factory):
    sites = prepare_sites(site_factory(500, seed=4))
    assert to_geoparquet(sites) == to_geoparquet(sites.sample(frac=1.0, random_state=3))


def test_identifier_columns_never_reach_the_parquet(few_sites):
    """A text column named after vehicles, or holding 64-hex pseudonyms under any name, is
    dropped; numeric aggregates about vehicles are kept."""
    sites = prepare_sites(few_sites)
    sites["top_vehicle"] = "ab" * 32
    sites["note"] = ["ok", "ok", "cd" * 32, "ok", "ok"]
    sites["top_vehicle_share"] = 0.4
    sites["operator"] = "ACME"
    gdf = gpd.read_parquet(io.BytesIO(to_geoparquet(sites)))
    assert {"top_vehicle_share", "operator"} <= set(gdf.columns)
    assert not {"top_vehicle", "note", "vehicle"} & set(gdf.columns)
