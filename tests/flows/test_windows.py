from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from configs.policy import load_policy
from flows.errors import RustPanic, panics_as_errors
from flows.windows import (
    HISTORY_SLACK_DAYS,
    data_cutoff,
    default_audit_date,
    export_range,
    final_days,
    lookahead_days,
    lookback_days,
)
from transforms.concessions import outlier_history_start, window_start
from transforms.contacts import AuditWindow


@pytest.fixture
def policy():
    return load_policy()


def test_default_policy_windows(policy):
    # concessions 28-day window (D-27..D) + 14 days of history slack = 41, but the amount-outlier
    # history (the window ending D-27 starts D-54) reaches further: 54
    assert lookback_days(policy) == 54
    # follow-up 72 h = 3 days, but repeat contact / came back need 7 days after D
    assert lookahead_days(policy) == 7
    r = export_range(date(2026, 11, 10), policy)
    assert (r.start, r.end) == (date(2026, 9, 17), date(2026, 11, 17))
    assert len(r.days()) == 62


@pytest.mark.parametrize("window_days", [1, 5, 15, 16, 28, 60])
def test_look_back_covers_the_amount_outlier_history(policy, window_days):
    """The run reads every concession the late amount-outlier test counts, and every contact of the
    trailing window with its history slack."""
    changed = policy.model_copy(
        update={"concessions": policy.concessions.model_copy(update={"window_days": window_days})}
    )
    day = date(2026, 11, 10)
    window = AuditWindow(day, "UTC", datetime(2026, 11, 11, tzinfo=UTC))
    start = export_range(day, changed).start
    assert start <= outlier_history_start(window, changed.concessions)
    assert start <= window_start(window, changed.concessions) - timedelta(days=HISTORY_SLACK_DAYS)


def test_default_audit_date_is_newest_day_whose_follow_up_window_closed(policy):
    # Exports through Nov 20 are known until Nov 21 00:00; D = Nov 17 closes its 72 h
    # window exactly then (Nov 18 00:00 + 72 h).
    assert default_audit_date(date(2026, 11, 20), policy) == date(2026, 11, 17)


def test_data_cutoff_is_next_local_midnight_in_utc():
    assert data_cutoff(date(2026, 11, 20), date(2026, 11, 17), "UTC") == datetime(2026, 11, 21, tzinfo=UTC)
    # New York is UTC-5 in November: local midnight is 05:00 UTC.
    ny = data_cutoff(date(2026, 11, 20), date(2026, 11, 17), "America/New_York")
    assert ny == datetime(2026, 11, 21, 5, tzinfo=UTC)
    assert data_cutoff(None, date(2026, 11, 17), "UTC") == datetime(2026, 11, 17, tzinfo=UTC)


def test_rust_panic_becomes_an_ordinary_exception():
    class PanicException(BaseException):  # the name pyo3 gives Rust panics
        pass

    @panics_as_errors
    def boom():
        raise PanicException("index out of bounds")

    with pytest.raises(RustPanic, match="index out of bounds"):
        boom()


def test_served_deployment_matches_the_daily_schedule():
    from flows.daily import served_daily_deployment

    deployment = served_daily_deployment("0 7 * * *", "Europe/Berlin")
    assert deployment.name == "support-audit-daily-served"  # never the name prefect deploy registers
    assert deployment.flow_name == "support-audit-daily"
    assert deployment.concurrency_limit == 1
    [schedule] = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 7 * * *", "Europe/Berlin")


# 2026-03-08 is New York's spring-forward day (23 hours); 2026-11-01 its fall-back day (25).
NEW_YORK = "America/New_York"


@pytest.mark.parametrize(
    ("day", "zone", "end"),
    [
        (date(2026, 3, 7), NEW_YORK, date(2026, 3, 15)),  # 23:30 EST + 168 h = 00:30 EDT on 03-15
        (date(2026, 3, 1), NEW_YORK, date(2026, 3, 9)),  # the 23-hour day lies in every 7 days after
        (date(2026, 3, 8), NEW_YORK, date(2026, 3, 15)),  # D itself is the short day: 168 h fit
        (date(2026, 2, 28), NEW_YORK, date(2026, 3, 7)),  # the short day is past its range
        (date(2026, 10, 31), NEW_YORK, date(2026, 11, 7)),  # a 25-hour day: 168 h end at 23:00
        (date(2026, 3, 7), "UTC", date(2026, 3, 14)),
    ],
    ids=str,
)
def test_the_look_ahead_reaches_the_day_the_longest_window_ends(policy, day, zone, end):
    """Windows are elapsed hours: a contact closed in D's last hour before a spring-forward day
    has its 168-hour window end after D+7's local midnight, so the range (and the cut-off) must
    reach D+8, or the contact stays pending on every re-run."""
    assert export_range(day, policy, zone).end == end
    last_instant = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(zone)) - timedelta(
        microseconds=1
    )
    window_end = last_instant.astimezone(UTC) + timedelta(hours=168)
    assert window_end <= data_cutoff(end, day, zone)


def test_a_spring_forward_week_makes_two_days_final_on_one_export_day(policy):
    """The run that ingests 03-15 makes final both 03-08 (its 7 days end on 03-15) and 03-07
    (its range runs one day longer); the run of 03-14 refreshes 03-06 only, not 03-07 yet."""
    from flows.daily import scheduled_days

    assert final_days(date(2026, 3, 15), policy, NEW_YORK) == [date(2026, 3, 7), date(2026, 3, 8)]
    assert final_days(date(2026, 3, 14), policy, NEW_YORK) == [date(2026, 3, 6)]
    assert final_days(date(2026, 3, 15), policy, "UTC") == [date(2026, 3, 8)]
    newest = date(2026, 3, 15)
    assert scheduled_days(newest, policy, True, NEW_YORK) == [
        date(2026, 3, 7),
        date(2026, 3, 8),
        date(2026, 3, 12),
    ]
    assert scheduled_days(newest, policy, False, NEW_YORK) == [date(2026, 3, 12)]
