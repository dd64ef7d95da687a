"""Web Mercator tile math and a points-only Mapbox Vector Tile encoder, vectorized with numpy.

Arrays in, arrays out; no I/O. Conventions are those of the XYZ/“slippy map” scheme used by
PMTiles and MVT: tile ``(0, 0)`` is the north-west corner, ``y`` grows southwards, and a tile
holds an ``extent`` x ``extent`` grid of integer coordinates whose ``y`` also grows southwards.

A point belongs to exactly one tile at each zoom: the one its *global pixel*
``floor(u * 2**zoom * extent)`` falls in (``u`` the Mercator coordinate in [0, 1)), so the tile
index and the in-tile coordinate are computed from one integer and can never disagree.

>>> tile_xy(np.array([0.0]), np.array([0.0]), 1)
(array([1]), array([1]))
>>> tile_bounds(0, 0, 0)
(-180.0, -85.0511287798066, 180.0, 85.0511287798066)
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

__all__ = [
    "MAX_LAT",
    "encode_point_layer",
    "encode_point_tiles",
    "global_pixels",
    "tile_bounds",
    "tile_pixels",
    "tile_pixels_to_lonlat",
    "tile_xy",
    "value_field",
    "zxy_to_tileid",
]

#: latitude limit of the square Web Mercator world (atan(sinh(pi)) in degrees)
MAX_LAT: float = float(np.degrees(np.arctan(np.sinh(np.pi))))

#: the default MVT extent (tile-local integer coordinates 0..extent-1)
EXTENT: int = 4096


def _mercator_unit(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat degrees -> Mercator unit square coordinates ``(u, v)`` in [0, 1], v southwards.

    Latitudes beyond :data:`MAX_LAT` are clamped to the edge of the map.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.clip(np.asarray(lat, dtype=np.float64), -MAX_LAT, MAX_LAT)
    u = (lon + 180.0) / 360.0
    phi = np.radians(lat)
    v = 0.5 - np.log(np.tan(np.pi / 4.0 + phi / 2.0)) / (2.0 * np.pi)
    return u, v


def global_pixels(
    lon: np.ndarray, lat: np.ndarray, zoom: int, extent: int = EXTENT
) -> tuple[np.ndarray, np.ndarray]:
    """Integer global pixel coordinates of points at ``zoom`` for tiles of ``extent`` units.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 degrees. Longitude 180 wraps to -180; latitudes are clamped to ±:data:`MAX_LAT`.
    zoom : int
        Tile zoom level (0..24).
    extent : int
        Tile extent, a power of two (MVT default 4096).

    Returns
    -------
    gx, gy : numpy.ndarray of int64
        ``gx // extent`` is the tile column, ``gx % extent`` the in-tile x; same for y.

    Examples
    --------
    >>> global_pixels(np.array([-180.0, 180.0]), np.array([MAX_LAT, -MAX_LAT]), 0, 4096)
    (array([0, 0]), array([   0, 4095]))
    """
    n = float(extent) * float(1 << zoom)
    u, v = _mercator_unit(lon, lat)
    u = np.mod(u, 1.0)  # lon 180 -> 0 (same meridian as -180)
    gx = np.floor(u * n).astype(np.int64)
    gy = np.floor(v * n).astype(np.int64)
    top = int(n) - 1
    return np.clip(gx, 0, top), np.clip(gy, 0, top)


def tile_xy(lon: np.ndarray, lat: np.ndarray, zoom: int) -> tuple[np.ndarray, np.ndarray]:
    """Column and row of the tile containing each point at ``zoom``.

    Examples
    --------
    >>> tile_xy(np.array([13.4, -74.0]), np.array([52.5, 40.7]), 14)
    (array([8801, 4824]), array([5374, 6160]))
    """
    gx, gy = global_pixels(lon, lat, zoom, EXTENT)
    return gx // EXTENT, gy // EXTENT


def tile_pixels(
    lon: np.ndarray, lat: np.ndarray, zoom: int, extent: int = EXTENT
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tile column/row and tile-local coordinates (y down) of each point at ``zoom``.

    Returns
    -------
    x, y, px, py : numpy.ndarray of int64
        Tile indices and in-tile coordinates in ``0..extent-1``.
    """
    gx, gy = global_pixels(lon, lat, zoom, extent)
    return gx // extent, gy // extent, gx % extent, gy % extent


def tile_pixels_to_lonlat(
    zoom: int,
    x: np.ndarray,
    y: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    extent: int = EXTENT,
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`tile_pixels`: lon/lat of the *centre* of tile-local cells.

    The round trip ``lonlat -> tile_pixels -> tile_pixels_to_lonlat`` is within half a cell
    (about 0.3 m at zoom 14 with extent 4096 at the equator).
    """
    n = float(extent) * float(1 << zoom)
    gx = np.asarray(x, dtype=np.float64) * extent + np.asarray(px, dtype=np.float64) + 0.5
    gy = np.asarray(y, dtype=np.float64) * extent + np.asarray(py, dtype=np.float64) + 0.5
    lon = gx / n * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * gy / n))))
    return lon, lat


def tile_bounds(zoom: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` in degrees of tile ``zoom/x/y``."""
    n = float(1 << zoom)
    west = x / n * 360.0 - 180.0
    east = (x + 1) / n * 360.0 - 180.0
    north = float(np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * y / n)))))
    south = float(np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * (y + 1) / n)))))
    return west, south, east, north


def zxy_to_tileid(zoom: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """PMTiles v3 tile ids (Hilbert order within a zoom) of tiles ``zoom/x/y``, vectorized.

    Matches :func:`pmtiles.tile.zxy_to_tileid` element by element.

    Examples
    --------
    >>> zxy_to_tileid(0, np.array([0]), np.array([0]))
    array([0], dtype=uint64)
    >>> zxy_to_tileid(1, np.array([0, 0, 1, 1]), np.array([0, 1, 1, 0]))
    array([1, 2, 3, 4], dtype=uint64)
    """
    x = np.asarray(x, dtype=np.int64).copy()
    y = np.asarray(y, dtype=np.int64).copy()
    n = 1 << zoom
    if x.size and (x.min() < 0 or y.min() < 0 or x.max() >= n or y.max() >= n):
        raise ValueError(f"tile x/y outside zoom {zoom} bounds")
    acc = np.full(x.shape, ((1 << (2 * zoom)) - 1) // 3, dtype=np.int64)
    for a in range(zoom - 1, -1, -1):
        s = 1 << a
        rx = (x & s) > 0
        ry = (y & s) > 0
        acc += ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64)) << (2 * a)
        # rotate the quadrant (the Hilbert curve's reflection), as in the reference
        flip = ~ry & rx
        x = np.where(flip, s - 1 - x, x)
        y = np.where(flip, s - 1 - y, y)
        swap = ~ry
        x, y = np.where(swap, y, x), np.where(swap, x, y)
    return acc.astype(np.uint64)


# --------------------------------------------------------------------------------------------
# MVT (Mapbox Vector Tile 2.1) encoding of one point layer
# --------------------------------------------------------------------------------------------
#: an MVT property value: str, bool, int or float; None means "no such property"
Value = str | bool | int | float | None


def _varint(n: int) -> bytes:
    """Protocol Buffers base-128 varint of a non-negative int (two's complement for < 0)."""
    if 0 <= n < _VARINT_TABLE_SIZE:
        return _VARINTS[n]
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _make_varints(size: int) -> list[bytes]:
    """Varints of ``0..size-1`` for ``size <= 2**21``."""
    table = []
    for i in range(size):
        if i < 0x80:
            table.append(bytes((i,)))
        elif i < 0x4000:
            table.append(bytes(((i & 0x7F) | 0x80, i >> 7)))
        else:
            table.append(bytes(((i & 0x7F) | 0x80, ((i >> 7) & 0x7F) | 0x80, i >> 14)))
    return table


#: varints of small numbers, looked up instead of computed (tags, lengths, coordinates)
_VARINT_TABLE_SIZE = 1 << 16
_VARINTS: list[bytes] = _make_varints(_VARINT_TABLE_SIZE)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited (wire type 2) field."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _encode_value(value: str | bool | int | float) -> bytes:
    """An MVT ``Value`` message: string (1), double (3), int (4) or bool (7)."""
    if isinstance(value, bool | np.bool_):
        return b"\x38" + (b"\x01" if value else b"\x00")
    if isinstance(value, int | np.integer):
        return b"\x20" + _varint(int(value))
    if isinstance(value, float | np.floating):
        return b"\x19" + struct.pack("<d", float(value))
    return _field(1, str(value).encode("utf-8"))


def encode_point_layer(
    name: str,
    px: Sequence[int],
    py: Sequence[int],
    properties: Sequence[Sequence[Value]],
    keys: Sequence[str],
    extent: int = EXTENT,
) -> bytes:
    """Encode one MVT tile holding one layer of point features.

    Parameters
    ----------
    name : str
        Layer name.
    px, py : sequence of int
        Tile-local coordinates (y down), one per feature, in ``0..extent-1``.
    properties : sequence of sequences
        One row per feature, aligned with ``keys``; ``None`` (or NaN) leaves the property out.
    keys : sequence of str
        Property names.
    extent : int
        Layer extent.

    Returns
    -------
    bytes
        The uncompressed protobuf ``Tile``. The same inputs give the same bytes: the key table is
        ``keys``, values are numbered in order of first use, fields are written in field-number
        order. Each distinct value (by type and value) is stored once per tile.
    """
    var = _VARINTS
    value_index: dict[tuple[type, object], int] = {}
    values: list[bytes] = []
    features: list[bytes] = []
    for x, y, row in zip(px, py, properties, strict=True):
        tags: list[bytes] = []
        for k, value in enumerate(row):
            if value is None or value != value:  # None or NaN: no such property
                continue
            vkey = (value.__class__, value)
            v = value_index.get(vkey)
            if v is None:
                v = value_index[vkey] = len(values)
                values.append(_encode_value(value))
            tags.append(var[k])
            tags.append(_varint(v))
        tag_bytes = b"".join(tags)
        geometry = b"\x09" + _varint(_zigzag(int(x))) + _varint(_zigzag(int(y)))
        feature = b"".join(
            (
                b"\x12",
                _varint(len(tag_bytes)),
                tag_bytes,
                b"\x18\x01\x22",
                var[len(geometry)],
                geometry,
            )
        )
        features.append(b"\x12" + _varint(len(feature)) + feature)
    # the key table is ``keys`` as given (tags need no renumbering), even if a key is unused
    layer = [_field(1, name.encode("utf-8")), *features]
    layer += [_field(3, key.encode("utf-8")) for key in keys]
    layer += [_field(4, value) for value in values]
    layer.append(b"\x28" + _varint(extent) + b"\x78\x02")  # extent (5), version (15) = 2
    return _field(3, b"".join(layer))


# --------------------------------------------------------------------------------------------
# The same encoding for many tiles at once, with numpy
# --------------------------------------------------------------------------------------------
def value_field(value: str | bool | int | float) -> bytes:
    """The layer's ``values`` entry (field 4) holding ``value``; see :func:`encode_point_tiles`."""
    if value.__class__ is str:  # the common case, inlined: field 4 { field 1: utf-8 }
        data = value.encode("utf-8")
        inner = _varint(len(data))
        return b"\x22" + _varint(1 + len(inner) + len(data)) + b"\x0a" + inner + data
    return _field(4, _encode_value(value))


def _varint_len(n: np.ndarray) -> np.ndarray:
    """Bytes of the varints of non-negative ``n`` (< 2**28)."""
    return 1 + (n >= 1 << 7) + (n >= 1 << 14) + (n >= 1 << 21)


def _put_varints(buf: np.ndarray, pos: np.ndarray, n: np.ndarray) -> None:
    """Write the varints of ``n`` (< 2**28) at byte offsets ``pos`` of ``buf``."""
    length = _varint_len(n)
    for j in range(4):
        m = length > j
        if not m.any():
            break
        byte = (n[m] >> (7 * j)) & 0x7F
        byte |= np.where(length[m] > j + 1, 0x80, 0)
        buf[pos[m] + j] = byte


def _gather(chunks: np.ndarray, offsets: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Concatenate the byte chunks ``which`` of a buffer cut at ``offsets`` (vectorized)."""
    starts, ends = offsets[which], offsets[which + 1]
    lengths = ends - starts
    if lengths.sum() == 0:
        return chunks[:0]
    idx = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(lengths.sum())
    return chunks[idx]


def encode_point_tiles(
    name: str,
    keys: Sequence[str],
    starts: np.ndarray,
    px: np.ndarray,
    py: np.ndarray,
    codes: np.ndarray,
    value_fields: Sequence[bytes],
    extent: int = EXTENT,
) -> list[bytes]:
    """Encode many one-layer point tiles at once; byte-identical to :func:`encode_point_layer`.

    Parameters
    ----------
    name : str
        Layer name.
    keys : sequence of str
        Property names (fewer than 128).
    starts : numpy.ndarray of int
        Feature ``starts[t]:starts[t+1]`` belong to tile ``t`` (length tiles + 1).
    px, py : numpy.ndarray of int
        Tile-local coordinates, one per feature, features grouped by tile.
    codes : numpy.ndarray of int, shape (features, len(keys))
        Per feature and key, the index of its value in ``value_fields``, or -1 for none. Equal
        values (same type and value) must have the same index whichever key holds them.
    value_fields : sequence of bytes
        :func:`value_field` of every distinct value.
    extent : int
        Layer extent.

    Returns
    -------
    list of bytes
        One uncompressed protobuf ``Tile`` per tile.

    Notes
    -----
    Per-feature work is numpy only: tag numbering (values in order of first use per tile),
    varints and all lengths are computed for every feature of every tile together, and bytes are
    scattered into one buffer. The Python loop runs over tiles, joining a few slices each.
    """
    if len(keys) >= 128:
        raise ValueError("at most 127 keys")
    starts = np.asarray(starts, dtype=np.int64)
    n_feat = int(starts[-1])
    n_tiles = len(starts) - 1
    codes = np.asarray(codes, dtype=np.int64).reshape(n_feat, len(keys))
    feat_tile = np.repeat(np.arange(n_tiles), np.diff(starts))

    # -- tags: (key, local value index) per non-null property, row-major within each tile
    feat_of, key_of = np.nonzero(codes >= 0)  # row-major: feature order, then key order
    g = codes[feat_of, key_of]
    tile_of = feat_tile[feat_of]
    n_values = max(len(value_fields), 1)
    group = tile_of * n_values + g
    uniq, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    # the tile's values in order of first use: sort groups by first position (tiles stay apart)
    by_first = np.argsort(first, kind="stable")
    uniq_tile = uniq[by_first] // n_values
    tile_value_start = np.searchsorted(uniq_tile, np.arange(n_tiles + 1))
    local = np.empty(len(uniq), dtype=np.int64)
    local[by_first] = np.arange(len(uniq)) - tile_value_start[uniq_tile]
    v = local[inverse.reshape(-1)]
    entry_len = 1 + _varint_len(v)
    tag_len = np.bincount(feat_of, weights=entry_len, minlength=n_feat).astype(np.int64)

    # -- feature sizes
    zx = np.asarray(px, dtype=np.int64) << 1  # zigzag of non-negative coordinates
    zy = np.asarray(py, dtype=np.int64) << 1
    lx, ly = _varint_len(zx), _varint_len(zy)
    geom_len = 1 + lx + ly
    body_len = 1 + _varint_len(tag_len) + tag_len + 3 + 1 + geom_len
    field_len = 1 + _varint_len(body_len) + body_len
    feat_off = np.r_[0, np.cumsum(field_len)]

    # -- scatter every feature's bytes into one buffer
    buf = np.zeros(int(feat_off[-1]), dtype=np.uint8)
    p0 = feat_off[:-1]
    buf[p0] = 0x12
    _put_varints(buf, p0 + 1, body_len)
    p1 = p0 + 1 + _varint_len(body_len)
    buf[p1] = 0x12
    _put_varints(buf, p1 + 1, tag_len)
    p2 = p1 + 1 + _varint_len(tag_len)
    entry_start = np.r_[0, np.cumsum(entry_len)[:-1]]
    first_entry = np.r_[0, np.cumsum(np.bincount(feat_of, minlength=n_feat))[:-1]]
    entry_pos = p2[feat_of] + entry_start - entry_start[first_entry[feat_of]]
    buf[entry_pos] = key_of
    _put_varints(buf, entry_pos + 1, v)
    p3 = p2 + tag_len
    buf[p3], buf[p3 + 1], buf[p3 + 2] = 0x18, 0x01, 0x22
    buf[p3 + 3] = geom_len
    buf[p3 + 4] = 0x09
    _put_varints(buf, p3 + 5, zx)
    _put_varints(buf, p3 + 5 + lx, zy)

    # -- each tile's value table, gathered from the global one in first-use order
    field_lengths = np.fromiter(map(len, value_fields), dtype=np.int64, count=len(value_fields))
    value_off = np.r_[0, np.cumsum(field_lengths)]
    value_buf = np.frombuffer(b"".join(value_fields), dtype=np.uint8)
    ordered_g = uniq[by_first] % n_values
    tile_values = _gather(value_buf, value_off, ordered_g)
    bytes_per_group = field_lengths[ordered_g] if len(ordered_g) else np.zeros(0, np.int64)
    tile_values_off = np.r_[0, np.cumsum(bytes_per_group)][tile_value_start]

    head = _field(1, name.encode("utf-8"))
    key_table = b"".join(_field(3, k.encode("utf-8")) for k in keys)
    tail = b"\x28" + _varint(extent) + b"\x78\x02"
    data, values_data = buf.tobytes(), tile_values.tobytes()
    feat_off_l, starts_l, voff_l = feat_off.tolist(), starts.tolist(), tile_values_off.tolist()
    out = []
    for t in range(n_tiles):
        layer = b"".join(
            (
                head,
                data[feat_off_l[starts_l[t]] : feat_off_l[starts_l[t + 1]]],
                key_table,
                values_data[voff_l[t] : voff_l[t + 1]],
                tail,
            )
        )
        out.append(b"\x1a" + _varint(len(layer)) + layer)
    return out
