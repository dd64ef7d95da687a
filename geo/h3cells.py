"""Vectorized H3: arrays of positions in, arrays of ``uint64`` cells out.

h3-py 4.5 converts one point at a time; the unavoidable loop lives in exactly one place
(:func:`latlng_to_cells` / :func:`cells_to_latlng`). Everything that only rearranges the bits of
an index (resolution, parent) is done with numpy bit operations, without any loop.

Cells stay ``uint64`` inside the program; :func:`cells_to_str` is for humans and file formats.

>>> import h3
>>> c = latlng_to_cells([35.6812], [139.7671], 13)
>>> c.dtype, int(get_resolution(c)[0])
(dtype('uint64'), 13)
>>> int(cell_to_parent(c, 5)[0]) == h3.api.basic_int.cell_to_parent(int(c[0]), 5)
True

H3 is only approximately nested: the parent of the res-13 cell holding a point need not be the
res-5 cell holding that point. Partitions here always use parents, so they nest exactly.
"""

from __future__ import annotations

import h3
import numpy as np
import numpy.typing as npt

__all__ = [
    "cell_to_parent",
    "cells_to_latlng",
    "cells_to_str",
    "count_in_disks",
    "get_resolution",
    "grid_disk_parents",
    "latlng_to_cells",
]

_RES_SHIFT = np.uint64(52)
_RES_MASK = np.uint64(0xF) << _RES_SHIFT
_DIGIT_BITS = 3
_MAX_RES = 15


def latlng_to_cells(lat: npt.ArrayLike, lng: npt.ArrayLike, res: int) -> npt.NDArray[np.uint64]:
    """H3 cells (``uint64``) of WGS84 positions in degrees.

    Parameters
    ----------
    lat, lng : array_like
        Latitudes and longitudes in degrees, broadcast to one shape (note the order: lat first).
    res : int
        H3 resolution 0..15.

    Returns
    -------
    numpy.ndarray of uint64, the shape of the broadcast inputs. Non-finite positions give 0.

    Examples
    --------
    >>> latlng_to_cells([0.0, float("nan")], [0.0, 0.0], 9)
    array([619056821840379903,                  0], dtype=uint64)
    """
    lat_a, lng_a = np.broadcast_arrays(
        np.asarray(lat, dtype=np.float64), np.asarray(lng, dtype=np.float64)
    )
    flat_lat, flat_lng = lat_a.ravel(), lng_a.ravel()
    ok = np.isfinite(flat_lat) & np.isfinite(flat_lng)
    out = np.zeros(flat_lat.size, dtype=np.uint64)
    f_int = h3.api.basic_int.latlng_to_cell  # int API: no hex strings on the way
    out[ok] = np.fromiter(
        (
            f_int(a, b, res)
            for a, b in zip(flat_lat[ok].tolist(), flat_lng[ok].tolist(), strict=True)
        ),
        dtype=np.uint64,
        count=int(ok.sum()),
    )
    return out.reshape(lat_a.shape)


def cells_to_latlng(
    cells: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Centres of H3 cells as ``(lat, lng)`` arrays in degrees (0 gives NaN)."""
    c = np.asarray(cells, dtype=np.uint64)
    flat = c.ravel()
    ok = flat != 0
    lat = np.full(flat.size, np.nan)
    lng = np.full(flat.size, np.nan)
    f = h3.api.basic_int.cell_to_latlng
    pairs = np.array([f(x) for x in flat[ok].tolist()], dtype=np.float64).reshape(-1, 2)
    lat[ok], lng[ok] = pairs[:, 0], pairs[:, 1]
    return lat.reshape(c.shape), lng.reshape(c.shape)


def get_resolution(cells: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Resolution of each H3 cell, read from the index bits (no loop)."""
    c = np.asarray(cells, dtype=np.uint64)
    return ((c & _RES_MASK) >> _RES_SHIFT).astype(np.int64)


def cell_to_parent(cells: npt.ArrayLike, res: int) -> npt.NDArray[np.uint64]:
    """Parent cells at resolution ``res`` (pure bit operations, no loop).

    The parent of a cell at resolution ``r >= res`` has the resolution field set to ``res`` and
    the digits ``res+1 .. 15`` set to 7 (unused), exactly as ``h3.cell_to_parent`` computes it.
    Cells whose resolution is coarser than ``res`` raise ``ValueError``; 0 stays 0.

    Examples
    --------
    >>> import h3
    >>> c = h3.api.basic_int.latlng_to_cell(48.85, 2.35, 13)
    >>> int(cell_to_parent([c], 7)[0]) == h3.api.basic_int.cell_to_parent(c, 7)
    True
    """
    if not 0 <= res <= _MAX_RES:
        raise ValueError(f"H3 resolution must be 0..15, got {res}")
    c = np.asarray(cells, dtype=np.uint64)
    nonzero = c != 0
    if np.any(get_resolution(c[nonzero]) < res):
        raise ValueError(f"cannot take the parent at resolution {res} of a coarser cell")
    unused = np.uint64((1 << ((_MAX_RES - res) * _DIGIT_BITS)) - 1)
    parent = (c & ~_RES_MASK) | (np.uint64(res) << _RES_SHIFT) | unused
    return np.where(nonzero, parent, np.uint64(0))


def grid_disk_parents(
    cells: npt.ArrayLike, k: int, parent_res: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """For each cell, the distinct parents at ``parent_res`` of the cells in its ``k``-ring.

    Used to find the coarse partitions whose halo a point belongs to. The loop runs once per
    *distinct* input cell, so callers pass cells coarse enough to be few.

    Returns
    -------
    index : int64 array
        Position in ``cells`` of each output row.
    parents : uint64 array
        A parent cell within the ``k``-ring of ``cells[index]``, distinct per index, sorted.
    """
    c = np.asarray(cells, dtype=np.uint64).ravel()
    uniq, inverse = np.unique(c, return_inverse=True)
    disk = h3.api.basic_int.grid_disk
    sizes = np.empty(uniq.size, dtype=np.int64)
    rings: list[int] = []
    for i, cell in enumerate(uniq.tolist()):
        ring = disk(cell, k)
        sizes[i] = len(ring)
        rings.extend(ring)
    owner = np.repeat(np.arange(uniq.size), sizes)
    parents = cell_to_parent(np.array(rings, dtype=np.uint64), parent_res)
    # distinct (owner, parent): sort parents within each owner, drop repeats
    order = np.lexsort((parents, owner))
    owner, parents = owner[order], parents[order]
    keep = np.r_[True, (owner[1:] != owner[:-1]) | (parents[1:] != parents[:-1])]
    u_owner, u_parent = owner[keep], parents[keep]
    # expand from distinct cells back to the input positions
    starts = np.searchsorted(u_owner, np.arange(uniq.size))
    counts = np.diff(np.append(starts, u_owner.size))
    per_input = counts[inverse]
    index = np.repeat(np.arange(c.size), per_input)
    first = np.repeat(starts[inverse], per_input)
    offset = np.arange(index.size) - np.repeat(np.cumsum(per_input) - per_input, per_input)
    return index.astype(np.int64), u_parent[first + offset]


def count_in_disks(
    points: npt.ArrayLike, query: npt.ArrayLike, k: int, weights: npt.ArrayLike | None = None
) -> npt.NDArray[np.float64]:
    """Number (or total weight) of ``points`` in the ``k``-ring of each ``query`` cell.

    ``points`` and ``query`` are cells of one resolution. One ``grid_disk`` call per distinct
    query cell; the counting itself is a sort and a lookup.

    Examples
    --------
    >>> c = latlng_to_cells([52.0, 52.0, 52.0001, 52.2], [5.0, 5.0, 5.0001, 5.2], 8)
    >>> count_in_disks(c, c[:1], 1).tolist()
    [3.0]
    >>> count_in_disks(c, c[3:], 0, weights=[1, 1, 1, 2.5]).tolist()
    [2.5]
    >>> count_in_disks(c, [], 1).tolist()
    []
    """
    pts = np.asarray(points, dtype=np.uint64).ravel()
    q = np.asarray(query, dtype=np.uint64).ravel()
    w = np.ones(pts.size) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.size != pts.size:
        raise ValueError(f"weights has {w.size} values, points {pts.size}")
    if q.size == 0 or pts.size == 0:
        return np.zeros(q.size)
    cells, inverse = np.unique(pts, return_inverse=True)
    per_cell = np.bincount(inverse.ravel(), weights=w, minlength=cells.size)
    index, disk = grid_disk_parents(q, k, int(get_resolution(q[:1])[0]))
    pos = np.minimum(np.searchsorted(cells, disk), cells.size - 1)
    vals = np.where(cells[pos] == disk, per_cell[pos], 0.0)
    return np.bincount(index, weights=vals, minlength=q.size)


def cells_to_str(cells: npt.ArrayLike) -> npt.NDArray[np.str_]:
    """Hexadecimal strings of cells, as H3 tools print them (``0`` gives ``"0"``)."""
    c = np.asarray(cells, dtype=np.uint64)
    return np.array([format(int(x), "x") for x in c.ravel().tolist()]).reshape(c.shape)
