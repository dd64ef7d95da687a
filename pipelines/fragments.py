"""Join a public station's fragment of poor fixes back into the station's site.

A few sessions with poor fixes (15-25 m off) that happen to fall close together are dense
enough for a site of their own beside their station's: the station is published twice, a few
metres apart. Clustering cannot tell them apart from a distinct quiet station without
knowing what each site is, so this step runs after classification: a ``public`` site with
fewer than ``fragment_max_sessions`` sessions whose nearest public site is busier, within
``fragment_join_m`` and of the same power class gives its sessions to that site. Both must look
public on their own, so a home next to a charger (excluded) is never joined into it; a quick
charger beside an AC one (30 m apart on a dense simulated fleet) is a station of its own.

Only one step deep: a fragment never receives another fragment, so a row of thin public
sites does not chain into one. The joined sites are classified afresh
(``pipelines.steps.discover``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree

from geo.distance import chord_from_m, unit_vectors
from pipelines.config import ClassifyParams, ClusterParams
from pipelines.schema import SITE_CORE_COLUMNS
from pipelines.sites import summarise_labels

__all__ = ["fragment_targets", "join_fragments"]


def join_fragments(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    classified: pd.DataFrame,
    cluster: ClusterParams,
    params: ClassifyParams,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Give each public fragment's sessions to the busier public site beside it.

    Parameters
    ----------
    sessions : DataFrame
        The window's sessions (as for :func:`pipelines.classify.site_features`).
    labels : array_like of int64
        Site of each session (-1 noise), aligned with ``sessions``.
    classified : DataFrame
        :func:`pipelines.classify.classify_sites` output (``SITE_CORE_COLUMNS``,
        ``site_class``).
    cluster : ClusterParams
        How site positions are summarised (:func:`pipelines.sites.summarise_labels`).
    params : ClassifyParams
        ``fragment_join_m`` (0 turns the step off) and ``fragment_max_sessions``.

    Returns
    -------
    sites : DataFrame
        ``SITE_CORE_COLUMNS`` without the joined fragments, each receiving site summarised
        again from all its sessions, sorted by ``cluster``.
    labels : int64 ndarray
        The sessions' labels, each fragment's under its receiving site's label.
    """
    lab = np.asarray(labels, dtype=np.int64)
    sites = classified[list(SITE_CORE_COLUMNS)].reset_index(drop=True)
    if params.fragment_join_m <= 0 or classified.empty:
        return sites, lab.copy()
    public = classified["site_class"].to_numpy() == "public"
    target = fragment_targets(
        classified["lat"].to_numpy(np.float64)[public],
        classified["lon"].to_numpy(np.float64)[public],
        classified["sessions"].to_numpy(np.int64)[public],
        classified["power_class"].to_numpy()[public],
        params.fragment_max_sessions,
        params.fragment_join_m,
    )
    joined = target >= 0
    if not joined.any():
        return sites, lab.copy()
    ids = classified["cluster"].to_numpy(np.int64)[public]
    k = max(int(ids.max()), int(lab.max(initial=-1))) + 1
    into = np.arange(k)
    into[ids[joined]] = ids[target[joined]]
    out = np.where(lab >= 0, into[np.maximum(lab, 0)], lab)
    receiving = np.isin(out, ids[target[joined]])
    parts = summarise_labels(sessions, np.where(receiving, out, -1), cluster)
    kept = sites[~sites["cluster"].isin(np.r_[ids[joined], parts["cluster"]])]
    merged = pd.concat([kept, parts], ignore_index=True)
    return merged.sort_values("cluster", kind="stable").reset_index(drop=True), out


def fragment_targets(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    sessions: npt.ArrayLike,
    kind: npt.ArrayLike,
    max_sessions: float,
    radius_m: float,
) -> npt.NDArray[np.int64]:
    """Index of the site each fragment joins, -1 where a site stays as it is.

    A site lighter than ``max_sessions`` joins its nearest site if that one lies within
    ``radius_m``, is of the same ``kind`` (power class), has more sessions (on a tie, the one
    listed first receives) and does not itself join another.

    Examples
    --------
    Three sessions 20 m from a ten-session site join it; of two thin sites 26 m apart the
    lighter joins the busier; a lone one stays, and so does a quick charger 20 m from an AC
    one; nothing to do on empty input.

    >>> dy = 1 / 111_195  # a metre of latitude
    >>> lat = 42.0 + dy * np.array([0, 20, 500, 526, 900, 1500, 1520])
    >>> kind = ["ac"] * 6 + ["dc"]
    >>> fragment_targets(lat, np.full(7, -71.0), [10, 3, 5, 4, 2, 10, 3], kind, 10, 28)
    array([-1,  0, -1,  2, -1, -1, -1])
    >>> fragment_targets([], [], [], [], 10, 28)
    array([], dtype=int64)
    """
    la = np.asarray(lat, dtype=np.float64).ravel()
    n = la.size
    out = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return out
    s = np.asarray(sessions, dtype=np.float64).ravel()
    xyz = unit_vectors(la, np.asarray(lon, dtype=np.float64).ravel())
    dist, j = cKDTree(xyz).query(xyz, k=2, distance_upper_bound=float(chord_from_m(radius_m)))
    near = np.where(np.isfinite(dist[:, 1]), j[:, 1], 0)
    i = np.arange(n)
    busier = (s[near] > s) | ((s[near] == s) & (near < i))
    same = np.asarray(kind).ravel()[near] == np.asarray(kind).ravel()
    out = np.where(np.isfinite(dist[:, 1]) & (s < max_sessions) & busier & same, near, -1)
    out[out >= 0] = np.where(out[out[out >= 0]] >= 0, -1, out[out >= 0])
    return out
