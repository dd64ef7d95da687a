"""Shared fixtures. Prefect gets its own PREFECT_HOME per test session, no telemetry."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Before anything imports prefect: an isolated home, offline, quiet.
_PREFECT_HOME = tempfile.mkdtemp(prefix="chargepoints-prefect-")
# removed when the interpreter exits (after the harness and its server have stopped)
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("PREFECT_API_URL", None)
for _var in ("CHARGEPOINTS_HMAC_KEY", "CHARGEPOINTS_SIGNING_KEY", "CHARGEPOINTS_CONFIG"):
    os.environ.pop(_var, None)

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests on the Prefect harness last, in their order. Flow runs leave Prefect's
    client threads behind, which draw from the global ``random``; a Hypothesis test drawing
    while they do warns "do not use the random module inside strategies"."""
    items.sort(key=lambda item: "prefect_harness" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def prefect_harness():
    """One ephemeral Prefect server for every flow test of the session (~6 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled simulated sample (landing/, registry.csv, truth/, LAST_DATE)."""
    if not (SAMPLE / "LAST_DATE").exists():
        pytest.fail("data/sample is missing: regenerate it (see data/sample/README.md)")
    return SAMPLE


@pytest.fixture(scope="session")
def sample_date(sample_dir: Path) -> str:
    return (sample_dir / "LAST_DATE").read_text().strip()
