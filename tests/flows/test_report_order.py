"""The report step's place in a flow run: after every day is published and the period
scorecards refreshed (flows/daily.py), worked with the steps replaced by recorders."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from flows import daily

DAYS = [date(2026, 3, 10) + timedelta(days=i) for i in range(3)]


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each step appends what it did; auditing the day in `steps.failing` raises."""
    done: list[Any] = []

    def audit_day(run: Any, day: date, ingest: Any) -> Any:
        if day == getattr(run, "failing", None):
            raise RuntimeError(f"{day} failed")
        done.append(("audit", day))
        return SimpleNamespace(audit_date=day)

    monkeypatch.setattr(daily, "audit_day", audit_day)
    monkeypatch.setattr(daily, "refresh_period_scorecards", lambda run: done.append("refresh"))
    monkeypatch.setattr(
        daily, "publish_html_reports", lambda run, days: [f"url-{day.audit_date}" for day in days]
    )
    monkeypatch.setattr(
        daily, "report_day", lambda run, day, url: done.append(("report", day.audit_date, url)) or {}
    )
    return done


def test_every_day_is_reported_after_the_period_refresh(steps: list[Any]) -> None:
    daily.audit_and_report(SimpleNamespace(), DAYS, None)
    assert steps == [*(("audit", d) for d in DAYS), "refresh", *(("report", d, f"url-{d}") for d in DAYS)]


def test_days_published_before_a_failure_are_still_reported(steps: list[Any]) -> None:
    with pytest.raises(RuntimeError, match="2026-03-11 failed"):
        daily.audit_and_report(SimpleNamespace(failing=DAYS[1]), DAYS, None)
    assert steps == [("audit", DAYS[0]), "refresh", ("report", DAYS[0], f"url-{DAYS[0]}")]


def test_a_first_day_failing_refreshes_and_reports_nothing(steps: list[Any]) -> None:
    with pytest.raises(RuntimeError, match="2026-03-10 failed"):
        daily.audit_and_report(SimpleNamespace(failing=DAYS[0]), DAYS, None)
    assert steps == []


def test_a_failed_report_raises_after_the_earlier_days_are_reported(
    steps: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports are rendered side by side; the first day (in day order) whose report failed is
    raised, after the days before it got their artifacts, and the days after it get none."""
    failure = OSError("reports bucket refused the write")
    monkeypatch.setattr(
        daily, "publish_html_reports", lambda run, days: ["url-1", failure, OSError("later day")]
    )
    with pytest.raises(OSError, match="refused the write"):
        daily.audit_and_report(SimpleNamespace(), DAYS, None)
    assert steps == [*(("audit", d) for d in DAYS), "refresh", ("report", DAYS[0], "url-1")]


def test_only_a_newer_published_day_gets_its_report_rebuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[date] = []
    monkeypatch.setattr(daily, "publish_html_report", lambda run, day, docs: built.append(day) or "url")
    for newest, rebuilt in (
        (None, []),
        (DAYS[-1], []),
        (DAYS[-1] + timedelta(days=4), [DAYS[-1] + timedelta(days=4)]),
    ):
        built.clear()
        monkeypatch.setattr(daily, "newest_published_day", lambda run, newest=newest: newest)
        daily.refresh_newest_report(SimpleNamespace(), DAYS[-1])
        assert built == rebuilt
