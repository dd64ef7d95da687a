"""The daily stages' helpers in pipelines.steps."""

from __future__ import annotations

import pytest

from pipelines.config import Settings
from pipelines.steps import partition_mapper, window_bounds


def test_window_bounds_inclusive():
    """A 90-day window ending 2026-11-24 starts 89 days earlier."""
    assert window_bounds("2026-11-24", 90) == ("2026-08-27", "2026-11-24")
    assert window_bounds("2026-03-01", 1) == ("2026-03-01", "2026-03-01")


def test_sequential_mapper_is_map():
    with partition_mapper(Settings()) as mapper:
        assert list(mapper(abs, [-1, 2])) == [1, 2]


@pytest.mark.slow
def test_dask_mapper_runs_batches_on_a_local_cluster():
    """task_runner='dask' without an address: a local in-process cluster, same results, in order."""
    with partition_mapper(Settings(task_runner="dask")) as mapper:
        assert list(mapper(abs, [-3, 1, -2])) == [3, 1, 2]
