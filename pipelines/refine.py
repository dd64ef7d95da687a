"""After the rules: split residences off chargers, join stations' fragments, classify again.

The rules classify each site as clustering found it. Two repairs need that classification and
change the sites, so each is followed by a fresh classification of the changed table:

1. :func:`pipelines.mixtures.split_mixtures` cuts a residence classed ``residential`` or
   ``workplace`` off the public charger it was chained with;
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
    sites, lab = split_mixtures(sessions, labels, classified, cluster, params)
    split = len(sites) - len(classified)
    if split:
        classified = classify_sites(site_features(sessions, lab, sites, params), params)
    sites, lab = join_fragments(sessions, lab, classified, cluster, params)
    joined = len(classified) - len(sites)
    if joined:
        classified = classify_sites(site_features(sessions, lab, sites, params), params)
    return Refined(classified, lab, split, joined)
