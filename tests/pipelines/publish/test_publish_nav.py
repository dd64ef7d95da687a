"""The nav tile bundle read with the ``pmtiles`` reader and the ``mapbox_vector_tile`` decoder."""

from __future__ import annotations

import gzip
import hashlib
import math

import mapbox_vector_tile
import numpy as np
from pmtiles.reader import MemorySource, Reader, all_tiles
from pmtiles.tile import Compression, TileType

from geo.tiles import tile_pixels_to_lonlat, tile_xy
from pipelines.publish import nav, prepare_sites
from pipelines.schema import PUBLISHED_PROPERTIES


def _bundle(sites):
    sites = prepare_sites(sites)
    tiles = nav.build_tiles(sites)
    bounds = (sites.lon.min(), sites.lat.min(), sites.lon.max(), sites.lat.max())
    archive, index = nav.build_pmtiles(tiles, bounds)
    return sites, archive, index


def _decode(data: bytes) -> list[dict]:
    layer = mapbox_vector_tile.decode(gzip.decompress(data), default_options={"y_coord_down": True})
    return layer[nav.LAYER]["features"]


def _metres(lon1, lat1, lon2, lat2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def test_header_and_metadata(sites_1k):
    _, archive, _ = _bundle(sites_1k)
    reader = Reader(MemorySource(archive))
    header = reader.header()
    assert header["tile_type"] == TileType.MVT
    assert header["tile_compression"] == Compression.GZIP
    assert (header["min_zoom"], header["max_zoom"]) == (0, 14)
    assert header["clustered"]
    meta = reader.metadata()
    (layer,) = meta["vector_layers"]
    assert layer["id"] == nav.LAYER and layer["maxzoom"] == 14
    assert set(PUBLISHED_PROPERTIES) <= set(layer["fields"])


def test_every_site_in_its_max_zoom_tile_at_the_right_place(few_sites, sites_1k):
    """Each site is found, by site_id, in the z14 tile containing it, within 1 m of its position.

    Includes the fixture's sites at ±179.9999999° (tile columns 16383 and 0) and at 84.9°N.
    """
    for table in (few_sites, sites_1k):
        sites, archive, _ = _bundle(table)
        tiles = dict(all_tiles(MemorySource(archive)))  # one directory walk, not one per site
        x, y = tile_xy(sites["lon"].to_numpy(), sites["lat"].to_numpy(), 14)
        for site, tx, ty in zip(sites.itertuples(), x.tolist(), y.tolist(), strict=True):
            features = {f["properties"]["site_id"]: f for f in _decode(tiles[(14, tx, ty)])}
            f = features[site.site_id]
            assert f["properties"]["sessions"] == site.sessions
            assert f["properties"]["status"] == site.status
            px, py = f["geometry"]["coordinates"]
            lon, lat = tile_pixels_to_lonlat(14, tx, ty, px, py)
            assert _metres(float(lon), float(lat), site.lon, site.lat) < 1.0
    assert tile_xy(np.array([179.9999999, -179.9999999]), np.array([0.0, 0.0]), 14)[0].tolist() == [
        16383,
        0,
    ]


def test_max_zoom_holds_each_site_exactly_once_with_all_properties(sites_1k):
    sites, archive, _ = _bundle(sites_1k)
    seen = []
    for (z, _, _), data in all_tiles(MemorySource(archive)):
        if z == 14:
            for f in _decode(data):
                seen.append(f["properties"]["site_id"])
                assert set(f["properties"]) >= set(PUBLISHED_PROPERTIES) - {"registry_id"}
    assert sorted(seen) == sorted(sites["site_id"])


def test_low_zooms_are_thinned_and_count_every_site(site_factory):
    """z0 (one tile) shows at most 32x32 representatives whose point_counts add up to all sites;
    the busiest site of all is among them."""
    sites, archive, _ = _bundle(site_factory(1500, seed=9))
    reader = Reader(MemorySource(archive))
    tiles = dict(all_tiles(MemorySource(archive)))
    for z in range(14):
        total = 0
        for (tz, _, _), data in tiles.items():
            if tz == z:
                feats = _decode(data)
                assert len(feats) <= 4**nav.CLUSTER_BITS
                total += sum(f["properties"]["point_count"] for f in feats)
        assert total == len(sites)
    z0 = _decode(reader.get(0, 0, 0))
    assert len(z0) < len(sites)
    busiest = sites.sort_values(["sessions", "site_id"], ascending=[False, True]).site_id.iloc[0]
    assert busiest in {f["properties"]["site_id"] for f in z0}


def test_tile_index_points_at_the_tile_bytes(sites_1k):
    _, archive, index = _bundle(sites_1k)
    reader = Reader(MemorySource(archive))
    tiles = dict(all_tiles(MemorySource(archive)))
    assert len(index) == len(tiles)
    for key, (offset, length, sha) in index.items():
        z, x, y = map(int, key.split("/"))
        data = archive[offset : offset + length]
        assert hashlib.sha256(data).hexdigest() == sha
        assert data == tiles[(z, x, y)]
    for key in list(index)[::97]:  # the reader's own lookup agrees (it re-reads directories)
        z, x, y = map(int, key.split("/"))
        assert reader.get(z, x, y) == tiles[(z, x, y)]


def test_archive_is_deterministic(sites_1k):
    _, a, ia = _bundle(sites_1k)
    _, b, ib = _bundle(sites_1k.sample(frac=1.0, random_state=7))
    assert a == b and ia == ib


def test_no_sites_gives_a_valid_empty_archive():
    import pandas as pd

    empty = pd.DataFrame({c: [] for c in (*PUBLISHED_PROPERTIES, "lat", "lon")})
    archive, index = nav.build_pmtiles(nav.build_tiles(prepare_sites(empty)), None)
    reader = Reader(MemorySource(archive))
    assert reader.header()["max_zoom"] == 14
    assert _decode(reader.get(0, 0, 0)) == []
    assert list(index) == ["0/0/0"]


def test_site_and_tile_delta(site_factory):
    """Day 2 drops s000000-s000009, adds t000000-t000004 and moves s000010: exactly those."""
    day1 = prepare_sites(site_factory(200, seed=11))
    day2 = day1.iloc[10:].copy()
    day2.loc[day2.site_id == "s000010", "lat"] += 0.01
    day2.loc[day2.site_id == "s000011", "sessions"] += 1
    day2 = prepare_sites(pd_concat(day2, prepare_sites(site_factory(5, seed=12, prefix="t"))))
    delta = nav.site_delta(day1, day2)
    assert delta["added"] == [f"t{i:06d}" for i in range(5)]
    assert delta["removed"] == [f"s{i:06d}" for i in range(10)]
    assert delta["changed"] == ["s000010", "s000011"]
    _, _, index1 = _bundle(day1)
    _, _, index2 = _bundle(day2)
    tiles = nav.tile_delta(index1, index2)
    hashes1 = {k: v[2] for k, v in index1.items()}
    assert set(tiles["changed"]) == {k for k in index2 if hashes1.get(k) != index2[k][2]}
    assert all(tiles["changed"][k] == index2[k] for k in tiles["changed"])
    assert set(tiles["removed"]) == set(index1) - set(index2)
    assert 0 < len(tiles["changed"]) < len(index2)


def pd_concat(*frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)
