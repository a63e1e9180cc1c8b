"""Source freshness of a scheduled run, and the concurrency limit the daily and backfill
flows share (flows/daily.py)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest

from configs.settings import load_settings
from flows.daily import WAREHOUSE_CONCURRENCY, check_freshness, ensure_warehouse_concurrency_limit
from flows.errors import NoInput

NEWEST = date(2026, 11, 20)  # its exports are whole at 2026-11-21 00:00 UTC


def test_age_is_counted_from_the_end_of_the_newest_export_day(caplog):
    settings = load_settings(freshness_warn_hours=48)  # no error threshold by default
    log = logging.getLogger("freshness-test")
    with caplog.at_level(logging.WARNING, logger="freshness-test"):
        assert check_freshness(settings, NEWEST, datetime(2026, 11, 22, 12, tzinfo=UTC), log) == 36.0
        assert caplog.records == []  # 36 h: fresh
        assert check_freshness(settings, NEWEST, datetime(2026, 11, 23, 6, tzinfo=UTC), log) == 54.0
    (warning,) = caplog.records
    assert "2026-11-20, 54 h old (warning after 48 h)" in warning.getMessage()


def test_past_the_error_threshold_a_run_stops_with_no_input():
    settings = load_settings(freshness_warn_hours=24, freshness_error_hours=72)
    log = logging.getLogger("freshness-test")
    assert check_freshness(settings, NEWEST, datetime(2026, 11, 24, tzinfo=UTC), log) == 72.0  # at, not past
    with pytest.raises(NoInput, match=r"2026-11-20, 73 h old \(error after 72 h\)"):
        check_freshness(settings, NEWEST, datetime(2026, 11, 24, 1, tzinfo=UTC), log)


def test_without_thresholds_nothing_is_checked(caplog):
    settings = load_settings().model_copy(
        update={"freshness_warn_hours": None, "freshness_error_hours": None}
    )
    with caplog.at_level(logging.WARNING):
        check_freshness(settings, NEWEST, datetime(2027, 1, 1, tzinfo=UTC), logging.getLogger("x"))
    assert caplog.records == []


@pytest.mark.xdist_group("prefect")
def test_the_shared_concurrency_limit_is_created_once(prefect_harness):
    from prefect.client.orchestration import get_client

    first, again = ensure_warehouse_concurrency_limit(), ensure_warehouse_concurrency_limit()
    assert again is False  # the first call may find it made by an earlier test of the session
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(WAREHOUSE_CONCURRENCY)
    assert (limit.name, limit.limit, limit.active) == (WAREHOUSE_CONCURRENCY, 1, True)
    assert isinstance(first, bool)
