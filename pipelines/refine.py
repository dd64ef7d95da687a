"""After the rules: split residences off chargers, join stations' fragments, classify again.

The rules classify each site as clustering found it. Two repairs need that classification and
change the sites, so each is followed by a fresh classification of the changed table:

1. :func:`pipelines.mixtures.split_mixtures` cuts a residence classed ``residential`` or
   ``workplace`` off the public charger it was chained with, and a workplace's employees off
   a public site; a public site's split is undone unless it leaves a non-public employees'
   part and a public one;
2. :func:`pipelines.fragments.join_fragments` gives a thin public site beside a busier public
   site of the same power class (a station's fringe of poor fixes) to that site.

:func:`refine_sites` runs both, in that order, for ``pipelines.steps.discover`` and the
benchmark.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from pipelines.classify import classify_sites, site_features
from pipelines.config import ClassifyParams, ClusterParams
from pipelines.fragments import join_fragments
from pipelines.mixtures import split_mixtures
from pipelines.schema import SITE_CORE_COLUMNS
from pipelines.sites import resummarise

__all__ = ["Refined", "refine_sites"]


class Refined(NamedTuple):
    """The refined classification, the sessions' labels, and how many sites each step
    added (``split``) or removed (``joined``)."""

    classified: pd.DataFrame
    labels: npt.NDArray[np.int64]
    split: int
    joined: int


def refine_sites(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    classified: pd.DataFrame,
    cluster: ClusterParams,
    params: ClassifyParams,
) -> Refined:
    """Split mixtures, then join fragments, classifying again after each step that acted.

    Parameters
    ----------
    sessions : DataFrame
        The window's sessions.
    labels : array_like of int64
        Site of each session (-1 noise), aligned with ``sessions``.
    classified : DataFrame
        :func:`pipelines.classify.classify_sites` output for those sites.
    cluster, params : ClusterParams, ClassifyParams
        Site summaries and the ``split_*`` / ``fragment_*`` thresholds.

    Returns
    -------
    Refined
        ``classified`` and ``labels`` after both steps (the inputs' when neither acts).
    """
    before = classified
    sites, lab = split_mixtures(sessions, labels, classified, cluster, params)
    split = len(sites) - len(classified)
    if split:
        classified = classify_sites(site_features(sessions, lab, sites, params), params)
        undone, lab, sites = _undo_public_splits(sessions, labels, lab, before, classified, cluster)
        if undone:
            split -= undone
            classified = classify_sites(site_features(sessions, lab, sites, params), params)
    sites, lab = join_fragments(sessions, lab, classified, cluster, params)
    joined = len(classified) - len(sites)
    if joined:
        classified = classify_sites(site_features(sessions, lab, sites, params), params)
    return Refined(classified, lab, split, joined)


def _undo_public_splits(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    lab: npt.NDArray[np.int64],
    before: pd.DataFrame,
    after: pd.DataFrame,
    cluster: ClusterParams,
) -> tuple[int, npt.NDArray[np.int64], pd.DataFrame]:
    """Give back the sessions split off a public site unless the split left a workplace and a
    public charger (:func:`pipelines.mixtures.split_mixtures`): when the employees' part (the
    label it kept) is public on its own too (a busy charger's own commuters), or everyone
    else's is not (without the commuters' shifts a busy charger's residents next door tip it
    over the residential rules). Returns how many splits were undone, the labels and the
    sites (``SITE_CORE_COLUMNS``, the touched ones summarised again)."""
    orig = np.asarray(labels, dtype=np.int64)
    k = max(int(before["cluster"].max()) + 1 if len(before) else 0, int(orig.max(initial=-1)) + 1)
    sites = after[list(SITE_CORE_COLUMNS)]
    moved = lab >= k
    if not moved.any():
        return 0, lab, sites
    was_public = np.zeros(k, dtype=bool)
    was_public[before["cluster"].to_numpy(np.int64)] = before["site_class"].to_numpy() == "public"
    now_public = np.zeros(max(k, int(lab.max()) + 1), dtype=bool)
    now_public[after["cluster"].to_numpy(np.int64)] = after["site_class"].to_numpy() == "public"
    src = np.where(moved, orig, 0)
    back = moved & was_public[src] & (now_public[src] | ~now_public[np.where(moved, lab, 0)])
    if not back.any():
        return 0, lab, sites
    out = lab.copy()
    out[back] = orig[back]
    touched = np.unique(np.r_[orig[back], lab[back]])
    return int(np.unique(lab[back]).size), out, resummarise(sessions, out, sites, touched, cluster)
