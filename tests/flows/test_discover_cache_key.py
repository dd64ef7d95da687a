"""The discover cache key changes exactly when discover's output could.

Expected, for the run day 2026-11-20 over a lake with one session file (landing day 2026-11-19):
the key is stable when nothing changes; it changes when that file is rewritten, when a landing
day <= the run day adds a session file or a clustering delta (``cells/``), when a setting
changes, or for another day or lake; it does not change when a landing day after the run day
arrives (the run never reads it).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from flows.daily import discover_inputs_key
from pipelines.config import ClusterParams, Settings

DAY = "2026-11-20"


def _file(lake: Path, session_day: str, landing_day: str, body: bytes = b"x") -> Path:
    f = lake / "sessions" / f"day={session_day}" / f"landing={landing_day}.parquet"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(body)
    return f


def _key(lake: Path, day: str = DAY, settings: Settings | None = None) -> str:
    return discover_inputs_key(None, {"lake": lake, "day": day, "settings": settings or Settings()})


def test_key_follows_the_inputs_discover_reads(tmp_path):
    lake = tmp_path / "lake"
    f = _file(lake, "2026-11-18", "2026-11-19")
    key = _key(lake)
    assert _key(lake) == key

    _file(lake, "2026-11-20", "2026-11-21")  # uploaded after the run day: never read for DAY
    assert _key(lake) == key

    st = f.stat()
    f.write_bytes(b"y")  # same size, rewritten (re-ingest)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert _key(lake) != key
    key = _key(lake)

    _file(lake, "2026-11-19", "2026-11-20")  # a new landing day up to the run day
    assert _key(lake) != key
    key = _key(lake)

    delta = lake / "cells" / "day=2026-11-19" / "landing=2026-11-20.parquet"
    delta.parent.mkdir(parents=True)
    delta.write_bytes(b"z")  # the incremental clustering's per-landing-day delta
    assert _key(lake) != key
    key = _key(lake)

    tighter = dataclasses.replace(Settings(), cluster=ClusterParams(eps_m=20.0))
    assert _key(lake, settings=tighter) != key
    assert _key(lake, day="2026-11-21") != key
    other = tmp_path / "other"
    _file(other, "2026-11-18", "2026-11-19")
    assert _key(other) != _key(lake)


def test_key_follows_the_registry_file(tmp_path):
    """The registry can overrule the rules in discover (``confirm_known``), so its bytes are
    part of the key: no registry, a registry, the same registry again (same key), an edited one
    (another key)."""
    lake = tmp_path / "lake"
    _file(lake, "2026-11-18", "2026-11-19")
    reg = tmp_path / "registry.csv"
    reg.write_text("registry_id,lat,lon\nA,42.36,-71.06\n")

    def key(registry):
        return discover_inputs_key(
            None, {"lake": lake, "day": DAY, "settings": Settings(), "registry": registry}
        )

    without, with_reg = key(None), key(str(reg))
    assert with_reg != without and key(str(reg)) == with_reg
    reg.write_text("registry_id,lat,lon\nA,42.36,-71.07\n")
    assert key(str(reg)) not in (without, with_reg)
