"""Known vs discovered: match published sites to a registry of known charge points.

The registry is a CSV (contract §2): ``registry_id,lat,lon[,name]``, UTF-8 (a BOM is fine),
extra columns ignored. :func:`read_registry` validates it and raises :class:`RegistryError` with
one human line for anything it cannot trust; :func:`match_registry` pairs sites and registry
entries one to one, nearest first, within ``RegistryParams.match_m``.

>>> import pandas as pd
>>> from pipelines.config import RegistryParams
>>> sites = pd.DataFrame({"site_id": ["a", "b"], "lat": [42.0, 42.01], "lon": [-71.0, -71.0]})
>>> reg = pd.DataFrame({"registry_id": ["R1", "R2"], "lat": [42.0002, 43.0], "lon": [-71.0, -71.0],
...                     "name": [None, None]})
>>> out, summary = match_registry(sites, reg, RegistryParams())
>>> out["known"].tolist(), out["registry_id"].tolist(), summary
([True, False], ['R1', None], {'known': 1, 'discovered': 1, 'registry_unseen': 1})
"""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt
import pandas as pd

from geo.matching import count_within, match_nearest
from pipelines.classify import classify_sites, site_features
from pipelines.config import ClassifyParams, ClusterParams, RegistryParams
from pipelines.mixtures import split_households

__all__ = [
    "REGISTRY_COLUMNS",
    "RegistryError",
    "confirm_known",
    "match_registry",
    "read_registry",
    "split_known_households",
]

REGISTRY_COLUMNS: tuple[str, ...] = ("registry_id", "lat", "lon", "name")


class RegistryError(ValueError):
    """The registry file cannot be used; the message is one line for a human."""


def read_registry(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a registry CSV.

    Parameters
    ----------
    path : path or fsspec URL
        CSV with a header row: ``registry_id``, ``lat``, ``lon`` required, ``name`` optional.

    Returns
    -------
    pandas.DataFrame
        ``registry_id`` (str), ``lat``, ``lon`` (float64), ``name`` (str or None), in file order.

    Raises
    ------
    RegistryError
        Unreadable file, missing columns, empty or duplicate ids, non-numeric or out-of-range
        coordinates. The message names the file, the problem and the first offending line.
    """
    try:
        raw = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True
        )
    except FileNotFoundError:
        raise RegistryError(f"registry {path}: no such file") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RegistryError(f"registry {path}: unreadable CSV ({detail})") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    missing = [c for c in REGISTRY_COLUMNS[:3] if c not in raw.columns]
    if missing:
        raise RegistryError(f"registry {path}: missing column(s) {', '.join(missing)}")

    ids = raw["registry_id"].str.strip()
    lat = pd.to_numeric(raw["lat"].str.strip(), errors="coerce")
    lon = pd.to_numeric(raw["lon"].str.strip(), errors="coerce")
    checks = [
        (ids == "", "empty registry_id"),
        (lat.isna() | lon.isna(), "non-numeric lat/lon"),
        (~lat.between(-90.0, 90.0) & lat.notna(), "lat out of range -90..90"),
        (~lon.between(-180.0, 180.0) & lon.notna(), "lon out of range -180..180"),
        (ids.duplicated(keep="first") & (ids != ""), "duplicate registry_id"),
    ]
    for bad, what in checks:
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise RegistryError(
                f"registry {path}: {what} on line {row + 2} ({int(bad.sum())} row(s))"
            )
    name = raw["name"].str.strip() if "name" in raw.columns else pd.Series("", index=raw.index)
    return pd.DataFrame(
        {
            "registry_id": ids.astype(object),
            "lat": lat.astype(np.float64),
            "lon": lon.astype(np.float64),
            "name": name.where(name != "", None).astype(object),
        }
    ).reset_index(drop=True)


def match_registry(
    published: pd.DataFrame, registry: pd.DataFrame | None, params: RegistryParams
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Mark sites that match a registry entry, one to one, nearest first, within ``match_m``.

    Parameters
    ----------
    published : pandas.DataFrame
        Sites with ``lat``/``lon`` (all other columns are kept).
    registry : pandas.DataFrame or None
        :func:`read_registry` output; ``None`` when no registry is configured.
    params : RegistryParams
        ``match_m``.

    Returns
    -------
    published : pandas.DataFrame
        The same rows plus ``known`` (bool) and ``registry_id`` (str or None).
    summary : dict
        ``known`` (sites matched), ``discovered`` (sites not in the registry) and
        ``registry_unseen`` (registry entries matched to no published site).
    """
    out = published.copy()
    reg_id = np.full(len(out), None, dtype=object)
    n_registry = 0
    if registry is not None and len(registry) and len(out):
        n_registry = len(registry)
        left, right, _ = match_nearest(
            out["lat"].to_numpy(), out["lon"].to_numpy(),
            registry["lat"].to_numpy(), registry["lon"].to_numpy(),
            params.match_m,
        )  # fmt: skip
        reg_id[left] = registry["registry_id"].to_numpy()[right]
    elif registry is not None:
        n_registry = len(registry)
    out["known"] = pd.notna(reg_id).astype(bool)
    out["registry_id"] = reg_id
    known = int(out["known"].sum())
    summary = {
        "known": known,
        "discovered": len(out) - known,
        "registry_unseen": n_registry - known,
    }
    return out, summary


def confirm_known(
    classified: pd.DataFrame,
    registry: pd.DataFrame | None,
    params: RegistryParams,
    min_vehicles: int,
) -> tuple[pd.DataFrame, int]:
    """Make public the held-back sites that sit, unambiguously, on a registry entry.

    A site whose class is in ``params.confirm_classes`` and that ``min_vehicles`` or more
    vehicles use becomes ``public`` when it is matched (one to one, nearest first, among all
    such sites) to a registry entry within ``confirm_m`` and no other site of any class lies
    within ``confirm_clear_m`` of that entry; so does a ``workplace`` whose sessions are mostly
    by vehicles sleeping there (``anchored_share >= confirm_workplace_anchored_share``) or
    whose drivers came once in ``confirm_workplace_one_time_share`` or more (employees come
    back and sleep at home). k-anonymity is never overruled: a home used by
    two vehicles keeps its class whatever the registry says. The rules' class and reasons
    stay readable in ``overruled`` (``"residential: household;overnight"``; ``""`` for every
    other site).

    Parameters
    ----------
    classified : pandas.DataFrame
        :func:`pipelines.classify.classify_sites` output (``lat``, ``lon``, ``vehicles``,
        ``site_class``, ``reasons``, ``anchored_share``, ``one_time_vehicle_share``).
    registry : pandas.DataFrame or None
        :func:`read_registry` output; ``None`` or empty: nothing changes.
    params : RegistryParams
        ``confirm_m``, ``confirm_clear_m``, ``confirm_classes``.
    min_vehicles : int
        The k-anonymity minimum (``ClassifyParams.min_vehicles``).

    Returns
    -------
    classified : pandas.DataFrame
        The same rows, classes updated, plus ``overruled``.
    confirmed : int
        How many sites the registry made public.

    Examples
    --------
    A home-looking site 3 m from a registry entry, alone there; a second one beside another
    site (ambiguous); a third used by two vehicles:

    >>> sites = pd.DataFrame({"lat": [0.0, 1.0, 1.0001, 2.0], "lon": [0.0] * 4,
    ...     "vehicles": [6, 6, 9, 2], "anchored_share": 0.5, "one_time_vehicle_share": 0.2,
    ...     "site_class": ["residential", "residential", "public", "residential"],
    ...     "reasons": ["household", "household", "", "dominant_vehicle;too_few_vehicles"]})
    >>> reg = pd.DataFrame({"registry_id": ["a", "b", "c"], "lat": [0.00003, 1.00003, 2.0],
    ...     "lon": [0.0] * 3})
    >>> out, n = confirm_known(sites, reg, RegistryParams(), min_vehicles=3)
    >>> out["site_class"].tolist(), n
    (['public', 'residential', 'public', 'residential'], 1)
    >>> out["overruled"].tolist()
    ['residential: household', '', '', '']
    >>> confirm_known(sites, None, RegistryParams(), 3)[1]
    0
    """
    out = classified.copy()
    overruled = np.full(len(out), "", dtype=object)
    flip = np.zeros(len(out), dtype=bool)
    if registry is not None and len(registry) and len(out) and params.confirm_m > 0:
        lat, lon = out["lat"].to_numpy(np.float64), out["lon"].to_numpy(np.float64)
        r_lat, r_lon = registry["lat"].to_numpy(), registry["lon"].to_numpy()
        # too_few_vehicles is only ever the class of such a site: the count is the whole guard
        open_ = np.flatnonzero(out["vehicles"].to_numpy() >= min_vehicles)
        left, right, _ = match_nearest(lat[open_], lon[open_], r_lat, r_lon, params.confirm_m)
        alone = count_within(r_lat[right], r_lon[right], lat, lon, params.confirm_clear_m) == 1
        site = open_[left[alone]]
        kind = out["site_class"].to_numpy()[site]
        not_employees = (
            out["anchored_share"].to_numpy()[site] >= params.confirm_workplace_anchored_share
        ) | (
            out["one_time_vehicle_share"].to_numpy()[site]
            >= params.confirm_workplace_one_time_share
        )
        flip[site] = np.isin(kind, params.confirm_classes) | ((kind == "workplace") & not_employees)
        cls, why = out["site_class"].to_numpy(object), out["reasons"].to_numpy(object)
        overruled[flip] = cls[flip] + ": " + why[flip]
        out.loc[flip, "site_class"] = "public"
        out.loc[flip, "reasons"] = ""
    out["overruled"] = overruled
    return out, int(flip.sum())


def split_known_households(
    sessions: pd.DataFrame,
    labels: npt.ArrayLike,
    classified: pd.DataFrame,
    registry: pd.DataFrame | None,
    params: RegistryParams,
    cluster: ClusterParams,
    classify: ClassifyParams,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64], int]:
    """Give a confirmed site's household back to the residence it came from.

    A home beside a known charger can be one site with it; the registry confirms that site
    (:func:`confirm_known`) and, before this step, published the home's sessions with the
    charger's. Here each confirmed site is matched again to its entry (within
    ``params.confirm_m``, one to one, nearest first) and the household is split off where
    :func:`pipelines.mixtures.split_households` finds one plugging in apart from everyone
    else. The charger's part stays confirmed (``public``, same ``overruled``); the household's
    part is classified again by the rules and, fewer than ``min_vehicles`` vehicles, is never
    public. Every other site keeps its row. ``params.split_households`` False: nothing changes.

    Returns
    -------
    classified : pandas.DataFrame
        The sites after the split, sorted by ``cluster``, with ``overruled``.
    labels : int64 ndarray
        Each session's site.
    split : int
        How many households were split off.
    """
    lab = np.asarray(labels, dtype=np.int64)
    same = classified, lab.copy(), 0
    confirmed = classified[classified["overruled"] != ""]
    if not params.split_households or registry is None or not len(registry) or not len(confirmed):
        return same
    left, right, _ = match_nearest(
        confirmed["lat"].to_numpy(np.float64), confirmed["lon"].to_numpy(np.float64),
        registry["lat"].to_numpy(), registry["lon"].to_numpy(), params.confirm_m,
    )  # fmt: skip
    at = pd.DataFrame({
        "cluster": confirmed["cluster"].to_numpy()[left],
        "lat": registry["lat"].to_numpy()[right],
        "lon": registry["lon"].to_numpy()[right],
    })  # fmt: skip
    sites, out, parent = split_households(sessions, lab, classified, at, cluster, classify)
    if not parent.size:
        return same
    new = np.unique(out[out != lab])  # the labels sessions moved to, in their parents' order
    there = np.isin(new, sites["cluster"].to_numpy())  # a part without usable fixes drops out
    parent, new = parent[there], new[there]
    again = classify_sites(site_features(sessions, out, sites, classify), classify)
    again["overruled"] = ""
    touched = np.r_[parent, new]
    old = classified.set_index("cluster")
    rows = pd.concat(
        [classified[~classified["cluster"].isin(touched)], again[again["cluster"].isin(touched)]],
        ignore_index=True,
    ).sort_values("cluster", kind="stable")
    rows = rows.set_index("cluster")
    kept = rows.loc[new, "site_class"] != "public"  # the rules may now publish it themselves
    rows.loc[new[kept], "overruled"] = old.loc[parent[kept], "overruled"].to_numpy()
    rows.loc[new, "site_class"] = "public"
    rows.loc[new, "reasons"] = ""
    return rows.reset_index()[list(classified.columns)], out, int(parent.size)
