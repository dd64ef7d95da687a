"""Join a public station's fragment of poor fixes back into the station's site.

A few sessions with poor fixes (15-25 m off) that happen to fall close together are dense
enough for a site of their own beside their station's: the station is published twice, a few
metres apart. Clustering cannot tell them apart from a distinct quiet station without
knowing what each site is, so this step runs after classification: a ``public`` site with
fewer than ``fragment_max_sessions`` sessions, at least ``fragment_min_coarse_share`` of its
fixes coarse, whose nearest public site is busier, within ``fragment_join_m`` and of the same
power class gives its sessions to that site. Both must look public on their own, so a home next
to a charger (excluded) is never joined into it; a quick charger beside an AC one (30 m apart
on a dense simulated fleet) is a station of its own, and so is a quiet station of good fixes
beside a busier one (two stations 31 m apart can have centroids 26 m apart).

Only one step deep: a fragment never receives another fragment, so a row of thin public
sites does not chain into one. The joined sites are classified afresh
(:func:`pipelines.refine.refine_sites`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.neighbours import nearest_heavier
from pipelines.config import ClassifyParams, ClusterParams
from pipelines.schema import SITE_CORE_COLUMNS
from pipelines.sites import resummarise

__all__ = ["join_fragments"]


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
        ``fragment_join_m`` (0 turns the step off), ``fragment_max_sessions`` and
        ``fragment_min_coarse_share``.

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
    target = nearest_heavier(
        classified["lat"].to_numpy(np.float64)[public],
        classified["lon"].to_numpy(np.float64)[public],
        classified["sessions"].to_numpy(np.int64)[public],
        classified["power_class"].to_numpy()[public],
        params.fragment_max_sessions,
        params.fragment_join_m,
    )
    # a fragment is made of poor fixes (an unknown share, no fix reporting one, is not).
    # Masked after the search: a thin site of fine fixes keeps its own sessions but still
    # counts as pointing elsewhere, so nothing joins into it (errs towards keeping apart)
    coarse = classified["coarse_known_fix_share"].to_numpy(np.float64)[public]
    target = np.where(coarse >= params.fragment_min_coarse_share, target, -1)
    joined = target >= 0
    if not joined.any():
        return sites, lab.copy()
    ids = classified["cluster"].to_numpy(np.int64)[public]
    k = max(int(ids.max()), int(lab.max(initial=-1))) + 1
    into = np.arange(k)
    into[ids[joined]] = ids[target[joined]]
    out = np.where(lab >= 0, into[np.maximum(lab, 0)], lab)
    # the joined sites are gone from `out` and drop out; those receiving them are summed anew
    touched = np.r_[ids[joined], ids[target[joined]]]
    return resummarise(sessions, out, sites, touched, cluster), out
