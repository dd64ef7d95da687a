"""Fleet simulator and discovery-quality evaluation: tools around the daily path.

Nothing on the daily path (``pipelines.ingest`` ... ``pipelines.publish``, ``flows``) imports
this package.
"""

from pipelines.sim.config import REGIONS, Region, SimConfig, SimSummary

__all__ = ["REGIONS", "Region", "SimConfig", "SimSummary", "evaluate", "naive_baseline", "simulate"]


def simulate(config: SimConfig) -> SimSummary:
    """Run a simulation (see :func:`pipelines.sim.simulate.simulate`)."""
    from pipelines.sim.simulate import simulate as _simulate

    return _simulate(config)


def evaluate(publish_root, truth_dir, day=None) -> dict:
    """Score a publish folder (see :func:`pipelines.sim.evaluate.evaluate`)."""
    from pipelines.sim.evaluate import evaluate as _evaluate

    return _evaluate(publish_root, truth_dir, day)


def naive_baseline(landing_dir, day):
    """One global DBSCAN over all valid rows (see :func:`pipelines.sim.baseline.naive_baseline`)."""
    from pipelines.sim.baseline import naive_baseline as _naive

    return _naive(landing_dir, day)
