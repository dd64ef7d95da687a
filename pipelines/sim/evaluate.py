"""Score a publish folder (contract §3) against a simulation's ground truth.

:func:`evaluate` matches every published site to the nearest truth station that had sessions
(within :data:`MATCH_M`) and reports:

* **recall** of *eligible* public stations: used by >= :data:`ELIGIBLE_VEHICLES` distinct
  opted-in vehicles with valid sessions received by the scored day (inside the pipeline's window);
  also ``recall_open`` over the eligible stations no vehicle does more than
  :data:`OPEN_MAX_TOP_SHARE` of the sessions at (the others can single out a local);
* **precision**: share of published sites whose nearest station is public;
* **leaks** per private kind (home, apartment_garage, workplace), sites matching no station,
  and sites at stations only opted-out vehicles used;
* median / p90 **location error** of the eligible stations found, stations **split** into
  several sites;
* over consecutive published days: **site-id stability**, correct ``new`` flags, stations opened
  during the period showing up as ``new``, quiet/closed stations no longer ``active``, and open
  stations used within ``stale_days`` not shown ``stale``;
* **registry** matching accuracy (``registry_id`` equal to the truth's, null included);
* privacy: sites below the k-anonymity minimum, forbidden properties.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from pipelines.config import Settings
from pipelines.sim._geo import haversine_m, to_xyz

#: a published site within this distance of a truth station can be that station
MATCH_M = 50.0
#: the issue's bar for a station that must be found
ELIGIBLE_VEHICLES = 5
#: ``recall_open`` leaves out eligible stations where one vehicle did more than this share of
#: the sessions: publishing those can single out whoever sleeps next to them (privacy rule)
OPEN_MAX_TOP_SHARE = 0.4
TARGETS = {
    "recall": (">=", 0.97),
    "precision": (">=", 0.98),
    "leaks_private": ("==", 0),
    "optout_only_published": ("==", 0),
    "location_error_median_m": ("<=", 10.0),
}
PRIVATE = ("home", "apartment_garage", "workplace")
FORBIDDEN_PROPS = ("vehicle_id", "vehicle", "session_id", "session", "sessions_list")


def published_days(publish_root: str | Path) -> list[str]:
    """Days (YYYY-MM-DD) with a ``charge_sites.geojson`` under ``publish_root``, sorted."""
    root = Path(publish_root)
    out = []
    for p in root.glob("*/charge_sites.geojson"):
        try:
            dt.date.fromisoformat(p.parent.name)
        except ValueError:
            continue
        out.append(p.parent.name)
    return sorted(out)


def read_sites(path: str | Path) -> pd.DataFrame:
    """Published GeoJSON -> one row per feature: site_id, lat, lon and every property."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    rows = []
    for f in doc.get("features", []):
        props = dict(f.get("properties") or {})
        lon, lat = f["geometry"]["coordinates"][:2]
        props.setdefault("site_id", f.get("id"))
        props["_id"] = f.get("id")
        props["lat"], props["lon"] = float(lat), float(lon)
        rows.append(props)
    cols = ["site_id", "lat", "lon", "status", "vehicles", "registry_id", "known", "_id"]
    df = pd.DataFrame(rows) if rows else pd.DataFrame(columns=cols)
    for c in cols:
        if c not in df:
            df[c] = None
    return df


def load_truth(truth_dir: Path, extra: tuple[str, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The truth's stations, and its sessions with what :func:`station_usage` needs (plus
    ``extra`` columns, e.g. ``session_id``) and ``plug_day``."""
    st = pd.read_parquet(truth_dir / "stations.parquet")
    cols = ["vehicle_id", "station_id", "opt_in", "corrupted", "plug_in_utc", "upload_day"]
    se = pd.read_parquet(truth_dir / "sessions.parquet", columns=cols + list(extra))
    se["upload_day"] = pd.to_datetime(se["upload_day"]).dt.strftime("%Y-%m-%d")
    se["plug_day"] = se["plug_in_utc"].dt.strftime("%Y-%m-%d")
    return st, se


def station_usage(
    stations: pd.DataFrame, sessions: pd.DataFrame, day: str, window_days: int
) -> pd.DataFrame:
    """Per station, as the pipeline could know it on ``day``.

    Counts valid (not corrupted) sessions received by ``day`` whose plug-in day lies in the
    window ``(day - window_days, day]``: ``vehicles_in`` (distinct opted-in vehicles),
    ``sessions_in``, ``sessions_out`` (opted-out), ``last_day`` (last opted-in plug-in day),
    ``top_share_in`` (the busiest opted-in vehicle's share of ``sessions_in``).
    """
    lo = (dt.date.fromisoformat(day) - dt.timedelta(days=window_days - 1)).isoformat()
    s = sessions[
        ~sessions["corrupted"]
        & (sessions["upload_day"] <= day)
        & (sessions["plug_day"] <= day)
        & (sessions["plug_day"] >= lo)
    ]
    opted = s[s["opt_in"]]
    g = opted.groupby("station_id")
    use = pd.DataFrame(
        {
            "vehicles_in": g["vehicle_id"].nunique(),
            "sessions_in": g.size(),
            "last_day": g["plug_day"].max(),
        }
    )
    use["top_share_in"] = (
        opted.groupby(["station_id", "vehicle_id"]).size().groupby(level=0).max()
        / use["sessions_in"]
    )
    out_counts = s[~s["opt_in"]].groupby("station_id").size().rename("sessions_out")
    out = stations.set_index("station_id").join(use).join(out_counts)
    out[["vehicles_in", "sessions_in", "sessions_out"]] = (
        out[["vehicles_in", "sessions_in", "sessions_out"]].fillna(0).astype(int)
    )
    out["top_share_in"] = out["top_share_in"].fillna(0.0)
    return out.reset_index()


def _match(sites: pd.DataFrame, cand: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Nearest candidate station (index into ``cand``, -1 beyond MATCH_M) and distance per site."""
    if not len(sites) or not len(cand):
        return np.full(len(sites), -1), np.full(len(sites), np.inf)
    tree = cKDTree(to_xyz(cand["lat"].to_numpy(), cand["lon"].to_numpy()))
    _, j = tree.query(to_xyz(sites["lat"].to_numpy(float), sites["lon"].to_numpy(float)), k=1)
    d = haversine_m(
        sites["lat"].to_numpy(float),
        sites["lon"].to_numpy(float),
        cand["lat"].to_numpy()[j],
        cand["lon"].to_numpy()[j],
    )
    j = np.where(d <= MATCH_M, j, -1)
    return j, d


def _score_day(sites: pd.DataFrame, usage: pd.DataFrame, min_vehicles: int) -> dict[str, Any]:
    cand = usage[(usage["sessions_in"] + usage["sessions_out"]) > 0].reset_index(drop=True)
    j, d = _match(sites, cand)
    kind = np.where(j >= 0, cand["kind"].to_numpy()[np.maximum(j, 0)], "none")
    public = np.char.startswith(kind.astype(str), "public")
    is_cand_pub = cand["kind"].str.startswith("public").to_numpy()
    eligible = is_cand_pub & (cand["vehicles_in"].to_numpy() >= ELIGIBLE_VEHICLES)
    hits = np.bincount(j[j >= 0], minlength=len(cand))
    best = np.full(len(cand), np.inf)
    np.minimum.at(best, j[j >= 0], d[j >= 0])
    found = eligible & (hits > 0)
    open_use = eligible & (cand["top_share_in"].to_numpy() <= OPEN_MAX_TOP_SHARE)
    err = best[found]
    optout_only = (cand["sessions_in"].to_numpy() == 0) & (cand["sessions_out"].to_numpy() > 0)
    truth_reg = cand["registry_id"].to_numpy()[np.maximum(j, 0)]
    pub_reg = sites["registry_id"].to_numpy() if len(sites) else np.array([])
    reg_ok = np.array(
        [_same(a, b) for a, b in zip(truth_reg[public], pub_reg[public], strict=True)], dtype=bool
    )
    below_k = pd.to_numeric(sites["vehicles"], errors="coerce").to_numpy() < min_vehicles
    leaks = {k: int((kind == k).sum()) for k in PRIVATE}
    by_power = {}
    for p in ("public_ac", "public_dc"):
        m = eligible & (cand["kind"].to_numpy() == p)
        by_power[p] = _ratio(int((m & found).sum()), int(m.sum()))
    missed = _missed(cand, eligible & ~found, sites, j)
    return {
        "published_sites": len(sites),
        "eligible_stations": int(eligible.sum()),
        "eligible_found": int(found.sum()),
        "recall": _ratio(int(found.sum()), int(eligible.sum())),
        "recall_by_kind": by_power,
        "eligible_open_stations": int(open_use.sum()),
        "recall_open": _ratio(int((open_use & found).sum()), int(open_use.sum())),
        "precision": _ratio(int(public.sum()), len(sites)),
        "public_sites": int(public.sum()),
        "leaks": leaks,
        "leaks_private": int(sum(leaks.values())),
        "unmatched_sites": int((j < 0).sum()),
        "optout_only_published": int(np.isin(np.flatnonzero(optout_only), j).sum()),
        "location_error_median_m": _round(np.median(err)) if len(err) else None,
        "location_error_p90_m": _round(np.percentile(err, 90)) if len(err) else None,
        "split_stations": int((is_cand_pub & (hits > 1)).sum()),
        "small_public_published": int((is_cand_pub & ~eligible & (hits > 0)).sum()),
        "registry_accuracy": _ratio(int(reg_ok.sum()), int(public.sum())),
        "below_k_published": int(below_k.sum()),
        "missed_examples": missed.head(10).to_dict(orient="records"),
        "_match": (cand["station_id"].to_numpy()[np.maximum(j, 0)], j >= 0, public),
    }


def _missed(
    cand: pd.DataFrame, miss: np.ndarray, sites: pd.DataFrame, j: np.ndarray
) -> pd.DataFrame:
    """The missed stations with what is around them, to tell why: the nearest published site
    (``site_m``, and ``site_station``, the station it was matched to, None beyond MATCH_M) and
    the nearest other station with sessions (``neighbour``, ``neighbour_m``). A miss next to a
    site matched to a neighbour 30 m away is two stations published as one."""
    out = cand.loc[miss, ["station_id", "kind", "vehicles_in", "lat", "lon"]].copy()
    out["site_m"], out["site_station"] = None, None
    out["neighbour"], out["neighbour_m"] = None, None
    if not len(out):
        return out
    lat, lon = out["lat"].to_numpy(), out["lon"].to_numpy()
    if len(sites):
        s_lat, s_lon = sites["lat"].to_numpy(float), sites["lon"].to_numpy(float)
        _, k = cKDTree(to_xyz(s_lat, s_lon)).query(to_xyz(lat, lon), k=1)
        out["site_m"] = haversine_m(lat, lon, s_lat[k], s_lon[k]).round(1)
        ids = cand["station_id"].to_numpy()
        out["site_station"] = np.where(j[k] >= 0, ids[np.maximum(j[k], 0)], None)
    if len(cand) > 1:
        c_lat, c_lon = cand["lat"].to_numpy(), cand["lon"].to_numpy()
        _, k = cKDTree(to_xyz(c_lat, c_lon)).query(to_xyz(lat, lon), k=2)
        own = cand["station_id"].to_numpy()[k[:, 0]] == out["station_id"].to_numpy()
        other = np.where(own, k[:, 1], k[:, 0])  # two stations can share a place
        out["neighbour"] = cand["station_id"].to_numpy()[other]
        out["neighbour_m"] = haversine_m(lat, lon, c_lat[other], c_lon[other]).round(1)
    return out


def _same(a: Any, b: Any) -> bool:
    na, nb = (
        a is None or (isinstance(a, float) and np.isnan(a)),
        b is None or (isinstance(b, float) and np.isnan(b)),
    )
    return (na and nb) or (not na and not nb and str(a) == str(b))


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _round(x: float) -> float:
    return round(float(x), 2)


def _lifecycle(
    publish: Path,
    days: list[str],
    usage_by_day: dict[str, pd.DataFrame],
    stations: pd.DataFrame,
    stale_days: int,
    min_vehicles: int,
) -> dict[str, Any]:
    """Site-id stability and status checks over consecutive published days."""
    same = total = new_wrong = new_total = 0
    opened_seen = opened_new = 0
    quiet_active = quiet_total = in_use_stale = in_use_total = 0
    opened = stations.set_index("station_id")["opened"].dropna()
    closed = stations.set_index("station_id")["closed"].dropna().astype(str)
    first_seen_station: dict[str, str] = {}
    prev_map: dict[str, str] = {}
    prev_ids: set[str] | None = None
    for day in days:
        sites = read_sites(publish / day / "charge_sites.geojson")
        sc = _score_day(sites, usage_by_day[day], min_vehicles)
        sid_match, matched, public = sc["_match"]
        ids = sites["site_id"].astype(str).to_numpy()
        status = sites["status"].astype(str).to_numpy()
        cur_map: dict[str, str] = {}
        for st_id, ok, pub, site, stat in zip(sid_match, matched, public, ids, status, strict=True):
            if not (ok and pub) or st_id in cur_map:
                continue
            cur_map[st_id] = site
            if st_id not in first_seen_station:
                first_seen_station[st_id] = day
                if st_id in opened.index and prev_ids is not None:
                    opened_seen += 1
                    opened_new += stat == "new"
            last = usage_by_day[day].set_index("station_id")["last_day"].get(st_id)
            if not isinstance(last, str):
                continue
            quiet = (dt.date.fromisoformat(day) - dt.date.fromisoformat(last)).days
            if quiet > stale_days:
                quiet_total += 1
                quiet_active += stat == "active"
            # in use: a session within the last stale_days - 1 days (at stale_days quiet
            # days the contract makes a site stale)
            elif quiet < stale_days and not (st_id in closed.index and closed[st_id] <= day):
                in_use_total += 1
                in_use_stale += stat == "stale"
        if prev_ids is not None:
            is_new = status == "new"
            should_new = ~np.isin(ids, list(prev_ids))
            new_total += len(ids)
            new_wrong += int((is_new != should_new).sum())
            for st_id, site in cur_map.items():
                if st_id in prev_map:
                    total += 1
                    same += prev_map[st_id] == site
        prev_map, prev_ids = cur_map, set(ids)
    return {
        "days_compared": max(len(days) - 1, 0),
        "id_stability": _ratio(same, total),
        "id_changes": total - same,
        "new_flag_errors": new_wrong,
        "new_flag_checked": new_total,
        "opened_stations_appeared": opened_seen,
        "opened_stations_flagged_new": opened_new,
        "quiet_stations_checked": quiet_total,
        "quiet_stations_still_active": quiet_active,
        "in_use_stations_checked": in_use_total,
        "in_use_stations_shown_stale": in_use_stale,
    }


def evaluate(
    publish_root: str | Path,
    truth_dir: str | Path,
    day: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Score ``publish_root`` against ``truth_dir`` on ``day`` (default: ``latest.json``'s date).

    Lifecycle metrics use every published day up to ``day``. Returns a JSON-ready dict; the
    ``targets`` entry says which of the issue's targets hold.
    """
    publish, truth = Path(publish_root), Path(truth_dir)
    settings = settings or Settings()
    days = published_days(publish)
    if not days:
        raise FileNotFoundError(f"no <day>/charge_sites.geojson under {publish}")
    if day is None:
        latest = publish / "latest.json"
        day = json.loads(latest.read_text())["date"] if latest.exists() else days[-1]
    if day not in days:
        raise ValueError(f"{day} is not published under {publish}")
    days = [d for d in days if d <= day]
    stations, sessions = load_truth(truth)
    usage = {d: station_usage(stations, sessions, d, settings.window_days) for d in days}
    k = settings.classify.min_vehicles
    sites = read_sites(publish / day / "charge_sites.geojson")
    out = _score_day(sites, usage[day], k)
    out.pop("_match")
    bad_props = sorted({c for c in sites.columns if c.lower() in FORBIDDEN_PROPS})
    out["forbidden_properties"] = bad_props
    out.update(_lifecycle(publish, days, usage, stations, settings.lifecycle.stale_days, k))
    out["date"] = day
    out["publish"] = str(publish)
    out["targets"] = {name: _check(out.get(name), op, bar) for name, (op, bar) in TARGETS.items()}
    return out


def _check(value: Any, op: str, bar: float) -> bool:
    if value is None:
        return False
    return {">=": value >= bar, "<=": value <= bar, "==": value == bar}[op]


def format_table(m: dict[str, Any]) -> str:
    """The metrics as an aligned two-column text table."""
    rows = [
        ("date", m["date"]),
        ("published sites", m["published_sites"]),
        ("eligible public stations (>= 5 vehicles)", m["eligible_stations"]),
        ("recall", m["recall"]),
        (
            f"  recall of stations no vehicle does > {OPEN_MAX_TOP_SHARE:.0%} of",
            f"{m['recall_open']} ({m['eligible_open_stations']} stations)",
        ),
        (
            "  recall AC / DC",
            f"{m['recall_by_kind']['public_ac']} / {m['recall_by_kind']['public_dc']}",
        ),
        ("precision", m["precision"]),
        (
            "leaks home / garage / workplace",
            "{home} / {apartment_garage} / {workplace}".format(**m["leaks"]),
        ),
        ("sites matching no station", m["unmatched_sites"]),
        ("opted-out-only stations published", m["optout_only_published"]),
        (
            "location error median / p90 (m)",
            f"{m['location_error_median_m']} / {m['location_error_p90_m']}",
        ),
        ("stations split into several sites", m["split_stations"]),
        ("public stations < 5 vehicles published", m["small_public_published"]),
        ("registry accuracy", m["registry_accuracy"]),
        ("sites below k vehicles", m["below_k_published"]),
        ("days compared", m["days_compared"]),
        ("site-id stability", m["id_stability"]),
        ("wrong new flags / checked", f"{m['new_flag_errors']} / {m['new_flag_checked']}"),
        (
            "opened stations: appeared / as new",
            f"{m['opened_stations_appeared']} / {m['opened_stations_flagged_new']}",
        ),
        (
            "quiet stations still active / checked",
            f"{m['quiet_stations_still_active']} / {m['quiet_stations_checked']}",
        ),
        (
            "open, used stations shown stale / checked",
            f"{m['in_use_stations_shown_stale']} / {m['in_use_stations_checked']}",
        ),
    ]
    rows += [(f"target {k}", "ok" if v else "MISSED") for k, v in m["targets"].items()]
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{w}}  {b}" for a, b in rows)
