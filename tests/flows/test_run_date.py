"""The daily flow's default ``date``: yesterday in ``$CHARGEPOINTS_TIMEZONE`` (contract §5).

Expected: 2026-11-24 11:00 UTC is already 2026-11-25 01:00 in Kiritimati (UTC+14), so the
default there is 2026-11-24; in Pago Pago (UTC-11) it is still 2026-11-24 00:00, so 2026-11-23;
without a time zone, UTC: 2026-11-23. Inside a flow run, "now" is the run's scheduled start.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from flows.daily import ENV_TIMEZONE, resolve_day

NOW = dt.datetime(2026, 11, 24, 11, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Pacific/Kiritimati", "2026-11-24"),
        ("Pacific/Pago_Pago", "2026-11-23"),
        (None, "2026-11-23"),
    ],
)
def test_default_date_is_yesterday_in_the_time_zone(monkeypatch, tz, expected):
    if tz:
        monkeypatch.setenv(ENV_TIMEZONE, tz)
    else:
        monkeypatch.delenv(ENV_TIMEZONE, raising=False)
    assert resolve_day(None, NOW) == expected


def test_explicit_date_wins_and_is_validated(monkeypatch):
    monkeypatch.setenv(ENV_TIMEZONE, "Pacific/Kiritimati")
    assert resolve_day("2026-02-28", NOW) == "2026-02-28"
    with pytest.raises(ValueError):
        resolve_day("2026-02-30", NOW)


@pytest.mark.slow
def test_in_a_flow_run_the_default_is_the_day_before_the_scheduled_start(
    prefect_harness, monkeypatch
):
    from prefect import flow

    monkeypatch.setenv(ENV_TIMEZONE, "Pacific/Kiritimati")

    @flow
    def default_day() -> tuple[str, str]:
        from prefect.runtime import flow_run

        return resolve_day(None), flow_run.scheduled_start_time.isoformat()

    day, scheduled = default_day()
    start = dt.datetime.fromisoformat(scheduled).astimezone(ZoneInfo("Pacific/Kiritimati"))
    assert day == (start.date() - dt.timedelta(days=1)).isoformat()
