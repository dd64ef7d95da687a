"""Fixtures for the publishing tests: small site tables with answers known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pipelines.schema import PUBLISHED_PROPERTIES


def make_sites(n: int, seed: int = 0, prefix: str = "s") -> pd.DataFrame:
    """``n`` synthetic public sites around three cities (Berlin, Tokyo, São Paulo).

    Ids are ``<prefix>000000``.. in row order; sessions 1..499; every column of the contract plus
    the analyst columns ``max_power_kw`` (some NaN), ``site_class`` and the run-local ``cluster``
    (which must never be published).
    """
    rng = np.random.default_rng(seed)
    centres = np.array([[13.40, 52.52], [139.69, 35.69], [-46.63, -23.55]])
    c = centres[rng.integers(0, len(centres), n)]
    return pd.DataFrame(
        {
            "site_id": [f"{prefix}{i:06d}" for i in range(n)],
            "status": rng.choice(["new", "active", "stale"], n),
            "sessions": rng.integers(1, 500, n),
            "vehicles": rng.integers(3, 60, n),
            "power_class": rng.choice(["dc", "ac", "mixed"], n),
            "first_seen": "2026-09-01",
            "last_seen": "2026-11-20",
            "known": rng.random(n) < 0.3,
            "registry_id": [f"R{i}" if i % 4 == 0 else None for i in range(n)],
            "lat": c[:, 1] + rng.normal(0, 0.15, n),
            "lon": c[:, 0] + rng.normal(0, 0.2, n),
            "max_power_kw": rng.choice([11.0, 50.0, 150.0, np.nan], n),
            "site_class": "public",
            "cluster": np.arange(n),
        }
    )


@pytest.fixture
def few_sites() -> pd.DataFrame:
    """Five hand-placed sites, deliberately not sorted by id.

    Expected: GeoJSON order a-berlin, b-tokyo, c-saopaulo, d-antimeridian, e-nearpole;
    bbox [-179.9999999, -23.55, 179.9999999, 84.9]; d-antimeridian sits in the eastern-most
    z14 tile column (16383), its twin across 180° in column 0.
    """
    rows = [
        ("c-saopaulo", "active", 40, 12, "dc", "2026-10-01", "2026-11-23", True, "BR-1",
         -23.55, -46.63, 150.0),
        ("a-berlin", "new", 7, 3, "ac", "2026-11-20", "2026-11-23", False, None,
         52.5200001234, 13.4049999876, 22.0),
        ("b-tokyo", "stale", 120, 30, "mixed", "2026-08-01", "2026-10-30", False, None,
         35.6895, 139.6917, np.nan),
        ("d-antimeridian", "active", 9, 4, "ac", "2026-11-01", "2026-11-22", True, "FJ-9",
         -16.5, 179.9999999, 7.4),
        ("e-nearpole", "active", 5, 3, "ac", "2026-11-01", "2026-11-22", False, None,
         84.9, -179.9999999, 11.0),
    ]  # fmt: skip
    cols = [*PUBLISHED_PROPERTIES, "lat", "lon", "max_power_kw"]
    df = pd.DataFrame(rows, columns=cols)
    df["vehicle"] = "must-not-leak"  # a pseudonymous id column sneaking in: never published
    return df


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    """A fixed test key (seed 0..31) so signatures are reproducible."""
    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def sites_1k() -> pd.DataFrame:
    return make_sites(1000, seed=1)


@pytest.fixture
def site_factory():
    """:func:`make_sites` for tests that need several sizes or days."""
    return make_sites
