"""Parameter sweep: ingest a simulated landing area once, then run discover/identify/publish
for its last two days under each settings variant and score it with :func:`evaluate`.

Much faster than ``pipelines.sim.quality`` (no Prefect, one ingest), for choosing thresholds::

    .venv/bin/python -m pipelines.sim.sweep SIM_DIR WORK_DIR \
        '{"base": {}, "eps15": {"cluster": {"eps_m": 15}}}'

Each variant is a ``Settings.from_dict`` override. Prints one line of metrics per variant.
"""

import json
import shutil
import sys
import time
from pathlib import Path

from pipelines import steps
from pipelines.config import Settings
from pipelines.ingest import ingest_landing_day, landing_days
from pipelines.registry import read_registry
from pipelines.sim.evaluate import evaluate


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sim, work, variants = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    lake = work / "lake"
    days = landing_days(sim / "landing")
    if not (lake / "ingested").exists():
        for d in days:
            ingest_landing_day(sim / "landing", lake, d, b"k" * 32, Settings().ingest)
    reg = read_registry(sim / "registry.csv")
    for name, over in variants.items():
        s = Settings.from_dict(over)
        pub = work / f"pub-{name}"
        shutil.rmtree(pub, ignore_errors=True)
        vlake = work / f"lake-{name}"
        shutil.rmtree(vlake, ignore_errors=True)
        shutil.copytree(lake, vlake)
        t = time.time()
        for d in days[-2:]:
            steps.discover(vlake, d, s, reg)
            steps.identify(vlake, d, reg, s)
            steps.publish(vlake, str(pub), d)
        m = evaluate(str(pub), str(sim / "truth"))
        keys = [
            "recall",
            "recall_open",
            "precision",
            "leaks",
            "leaks_private",
            "split_stations",
            "location_error_median_m",
            "optout_only_published",
        ]
        print(name, round(time.time() - t, 1), {k: m.get(k) for k in keys}, flush=True)


if __name__ == "__main__":
    main()
