"""pipelines.registry: reading/validating the registry CSV and matching sites to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.config import RegistryParams
from pipelines.registry import RegistryError, confirm_known, match_registry, read_registry

M_PER_DEG = 111_195.08


def _write(tmp_path, text: str, name: str = "registry.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_read_valid_with_bom_optional_name_and_extra_columns(tmp_path):
    """BOM, spaces, an extra column and an empty name: 2 rows, name None for the second."""
    path = _write(
        tmp_path,
        "\ufeffregistry_id, lat, lon, name, operator\n"
        "R1, 42.1, -71.2, Mall lot, X\nR2,42.2,-71.3,,Y\n",
    )
    reg = read_registry(path)
    assert reg.columns.tolist() == ["registry_id", "lat", "lon", "name"]
    assert reg["registry_id"].tolist() == ["R1", "R2"]
    assert reg["lat"].tolist() == [42.1, 42.2] and reg["lon"].dtype == np.float64
    assert reg["name"].tolist() == ["Mall lot", None]


def test_read_without_name_column_and_header_only(tmp_path):
    """No name column -> all None; a header-only file is a valid empty registry."""
    reg = read_registry(_write(tmp_path, "registry_id,lat,lon\nA,1,2\n"))
    assert reg["name"].tolist() == [None]
    assert len(read_registry(_write(tmp_path, "registry_id,lat,lon\n", "empty.csv"))) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id,lat,lon\nA,1,2\n", "missing column(s) registry_id"),
        ("registry_id,lat\nA,1\n", "missing column(s) lon"),
        ("registry_id,lat,lon\nA,north,2\n", "non-numeric lat/lon on line 2"),
        ("registry_id,lat,lon\nA,1,2\nB,91,2\n", "lat out of range -90..90 on line 3"),
        ("registry_id,lat,lon\nA,1,200\n", "lon out of range -180..180 on line 2"),
        ("registry_id,lat,lon\nA,1,2\nB,1,2\nA,3,4\n", "duplicate registry_id on line 4"),
        ("registry_id,lat,lon\n,1,2\n", "empty registry_id on line 2"),
        ("", "unreadable CSV"),
    ],
)
def test_malformed_files_raise_one_line(tmp_path, text, expected):
    """Each malformed file raises RegistryError (a ValueError) naming the problem in one line."""
    with pytest.raises(RegistryError) as err:
        read_registry(_write(tmp_path, text))
    msg = str(err.value)
    assert expected in msg and "\n" not in msg
    assert isinstance(err.value, ValueError)


def test_missing_and_binary_files(tmp_path):
    """A missing file and a non-UTF-8 file give RegistryError, not a traceback-worthy error."""
    with pytest.raises(RegistryError, match="no such file"):
        read_registry(tmp_path / "nope.csv")
    bad = tmp_path / "bin.csv"
    bad.write_bytes(b"registry_id,lat,lon\n\xff\xfe\x00,1,2\n")
    with pytest.raises(RegistryError, match="unreadable CSV"):
        read_registry(bad)


def _sites(north_m: list[float]) -> pd.DataFrame:
    lat0 = 42.0
    return pd.DataFrame(
        {
            "site_id": [f"s{i}" for i in range(len(north_m))],
            "lat": lat0 + np.asarray(north_m) / M_PER_DEG,
            "lon": np.full(len(north_m), -71.0),
        }
    )


def test_match_one_to_one_nearest_first():
    """Sites at 0, 60, 500 m; registry at 20 m (R1), 45 m (R2), 2 km (R3); reach 75 m.

    Distances: R1-s0 20, R1-s1 40, R2-s0 45, R2-s1 15. Nearest first: R2-s1 (15) then R1-s0 (20).
    Expected: s0 -> R1, s1 -> R2, s2 discovered; R3 never seen -> known 2, discovered 1, unseen 1.
    """
    reg = pd.DataFrame(
        {
            "registry_id": ["R1", "R2", "R3"],
            "lat": 42.0 + np.array([20.0, 45.0, 2000.0]) / M_PER_DEG,
            "lon": [-71.0] * 3,
            "name": [None] * 3,
        }
    )
    out, summary = match_registry(_sites([0.0, 60.0, 500.0]), reg, RegistryParams(match_m=75.0))
    assert out["registry_id"].tolist() == ["R1", "R2", None]
    assert out["known"].tolist() == [True, True, False]
    assert summary == {"known": 2, "discovered": 1, "registry_unseen": 1}


def test_two_sites_compete_for_one_entry():
    """Sites at 0 and 30 m, one registry entry at 25 m: only the 30 m site (5 m) is known."""
    reg = pd.DataFrame(
        {"registry_id": ["R"], "lat": [42.0 + 25.0 / M_PER_DEG], "lon": [-71.0], "name": [None]}
    )
    out, summary = match_registry(_sites([0.0, 30.0]), reg, RegistryParams(match_m=75.0))
    assert out["registry_id"].tolist() == [None, "R"]
    assert summary == {"known": 1, "discovered": 1, "registry_unseen": 0}


def test_no_registry_and_no_sites():
    """registry None -> known False / registry_id None; no sites -> every entry unseen."""
    out, summary = match_registry(_sites([0.0, 10.0]), None, RegistryParams())
    assert out["known"].tolist() == [False, False] and out["registry_id"].tolist() == [None, None]
    assert out["known"].dtype == bool
    assert summary == {"known": 0, "discovered": 2, "registry_unseen": 0}
    reg = pd.DataFrame({"registry_id": ["R"], "lat": [1.0], "lon": [1.0], "name": [None]})
    _, summary = match_registry(_sites([]), reg, RegistryParams())
    assert summary == {"known": 0, "discovered": 0, "registry_unseen": 1}


def _at(east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    lat0, lon0 = 42.36, -71.06
    return lat0 + north_m / M_PER_DEG, lon0 + east_m / (M_PER_DEG * np.cos(np.radians(lat0)))


def test_registry_confirms_a_held_back_charger_alone_on_its_entry():
    """Sites along a street (metres east of an origin), registry entries geocoded a few metres
    off:

    - A (0 m): a public charger a local without a home charger sleeps at, classed
      ``residential`` (household); entry R1 4 m away, no other site within 30 m.
    - B (300 m): a home 30 m from public charger C (330 m), whose entry R2 was geocoded 22 m off,
      onto the home (8 m from B): C's site is within 30 m of R2 too, so R2 is ambiguous.
    - D (600 m): a workplace car park on entry R3 (3 m): its 15 employees come back (one-time
      share 0.1) and sleep at home (anchored 0).
    - E (900 m): a home two vehicles use (``residential``, too_few_vehicles among its reasons) on
      entry R4 (1 m): below k-anonymity, whatever its class.
    - F (1200 m) held back as unconfirmed, G (1215 m) public; entry R5 3 m from F: ambiguous.
    - H (1500 m): a charger classed ``workplace`` for its weekday-daytime stays whose drivers
      mostly came once (one-time share 0.6), on entry R6 (2 m).

    Expected: A and H become ``public`` (count 2, ``overruled`` "residential: household" and
    "workplace: weekday_daytime", reasons ""); B stays ``residential``, D ``workplace``, F
    ``unconfirmed``; E stays ``residential`` (the registry never publishes a site of fewer than
    3 vehicles). With ``confirm_m`` 0 nothing changes.
    """
    east = [0.0, 300.0, 330.0, 600.0, 900.0, 1200.0, 1215.0, 1500.0]
    lat, lon = zip(*(_at(e) for e in east), strict=True)
    sites = pd.DataFrame({
        "lat": lat, "lon": lon, "vehicles": [6, 5, 40, 15, 2, 5, 30, 12],
        "site_class": ["residential", "residential", "public", "workplace", "residential",
                       "unconfirmed", "public", "workplace"],
        "reasons": ["household", "dominant_vehicle", "", "weekday_daytime",
                    "dominant_vehicle;too_few_vehicles", "too_few_sessions", "",
                    "weekday_daytime"],
        "anchored_share": [0.7, 0.8, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        "one_time_vehicle_share": [0.3, 0.2, 0.8, 0.1, 0.0, 0.6, 0.7, 0.6],
    })  # fmt: skip
    r = [_at(4.0), _at(308.0), _at(603.0), _at(901.0), _at(1203.0), _at(1502.0)]
    reg = pd.DataFrame({"registry_id": [f"R{i}" for i in range(1, 7)],
                        "lat": [p[0] for p in r], "lon": [p[1] for p in r]})  # fmt: skip
    out, n = confirm_known(sites, reg, RegistryParams(), 3)
    assert n == 2
    assert out["site_class"].tolist() == [
        "public", "residential", "public", "workplace", "residential", "unconfirmed", "public",
        "public",
    ]  # fmt: skip
    assert out["overruled"].tolist() == ["residential: household", "", "", "", "", "", "",
                                         "workplace: weekday_daytime"]  # fmt: skip
    assert out.loc[0, "reasons"] == "" and out.loc[7, "reasons"] == ""
    off = confirm_known(sites, reg, RegistryParams(confirm_m=0.0), 3)
    assert off[1] == 0 and off[0]["site_class"].tolist() == sites["site_class"].tolist()
    # without the ambiguity guard the home would be taken for its neighbour's charger
    loose = confirm_known(sites, reg, RegistryParams(confirm_clear_m=15.0), 3)[0]
    assert loose.loc[1, "site_class"] == "public"
    # without the workplace guard the employees' car park would be taken for the charger
    no_guard = RegistryParams(confirm_workplace_one_time_share=0.0)
    assert confirm_known(sites, reg, no_guard, 3)[0].loc[3, "site_class"] == "public"
