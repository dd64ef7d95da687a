"""The census of a simulated run: which stations were missed or leaked, and into what site."""

from pathlib import Path

import pytest

from pipelines.config import Settings
from pipelines.ingest import ingest_landing_day, landing_days
from pipelines.sim.census import run


@pytest.fixture(scope="module")
def sample_lake(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample's landing area ingested into a fresh lake (21 days, ~5,600 rows)."""
    lake = tmp_path_factory.mktemp("census") / "lake"
    for day in landing_days(sample_dir / "landing"):
        ingest_landing_day(sample_dir / "landing", lake, day, b"k" * 32, Settings().ingest)
    return lake


def test_sample_has_nothing_missed_or_leaked(sample_dir: Path, sample_lake: Path) -> None:
    """The sample's evaluation finds every eligible station and no private site (recall 1.0,
    leaks 0/0/0): the census, which joins sessions to stations instead of sites to the nearest
    station, agrees.

    Expected: an empty table.
    """
    assert run(sample_dir, sample_lake, None, Settings()).empty


def test_a_rule_gone_wrong_shows_in_the_census(sample_dir: Path, sample_lake: Path) -> None:
    """With ``min_sessions`` and ``quiet_min_sessions`` at 1000, no site has enough sessions
    to be public.

    Expected: all 69 eligible stations of the sample (``chargepoints evaluate`` counts 69)
    listed as ``missed``, each in an ``unconfirmed`` site held back for ``too_few_sessions``
    that holds most of its sessions; nothing ``leaked``.
    """
    wrong = Settings.from_dict({"classify": {"min_sessions": 1000, "quiet_min_sessions": 1000}})
    out = run(sample_dir, sample_lake, None, wrong)
    assert (out["outcome"] == "missed").all() and len(out) == 69
    assert (out["vehicles_in"] >= 5).all() and out["kind"].str.startswith("public").all()
    assert (out["site_class"] == "unconfirmed").all()
    assert out["reasons"].str.split(";").map(lambda r: "too_few_sessions" in r).all()
    assert (out["in_site"] > 0.5).all()
