"""The report step's place in a flow run: after every day is published and the period
scorecards refreshed (flows/daily.py), worked with the steps replaced by recorders."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from flows import daily

DAYS = [date(2026, 3, 10) + timedelta(days=i) for i in range(3)]


class _Publication:
    """A stand-in for `validate_and_publish.submit`: the future records when it is waited on,
    and fails for the day in `run.publish_failing`."""

    def __init__(self, done: list[Any]) -> None:
        self.done = done

    def submit(self, run: Any, day: date, inputs: Any, metrics: Any) -> Any:
        def result() -> Any:
            if day == getattr(run, "publish_failing", None):
                raise OSError(f"{day} publication failed")
            self.done.append(("published", day))
            return SimpleNamespace(data_docs_url=None)

        return SimpleNamespace(result=result)


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each step appends what it did; computing the day in `run.failing` raises."""
    done: list[Any] = []

    def compute_day(run: Any, day: date, ingest: Any = None) -> Any:
        if day == getattr(run, "failing", None):
            raise RuntimeError(f"{day} failed")
        done.append(("audit", day))
        return SimpleNamespace(audit_date=day, inputs=None, metrics={})

    monkeypatch.setattr(daily, "compute_day", compute_day)
    monkeypatch.setattr(daily, "validate_and_publish", _Publication(done))
    monkeypatch.setattr(
        daily, "published_day", lambda run, day, published, ingest: SimpleNamespace(audit_date=day.audit_date)
    )
    monkeypatch.setattr(daily, "refresh_period_scorecards", lambda run: done.append("refresh"))
    monkeypatch.setattr(
        daily, "publish_html_reports", lambda run, days: [f"url-{day.audit_date}" for day in days]
    )
    monkeypatch.setattr(
        daily, "report_day", lambda run, day, url: done.append(("report", day.audit_date, url)) or {}
    )
    return done


def _audits(steps: list[Any]) -> list[Any]:
    return [s for s in steps if s[0] in ("audit", "published")]


def test_every_day_is_reported_after_the_period_refresh(steps: list[Any]) -> None:
    daily.audit_and_report(SimpleNamespace(), DAYS, None)
    reports = [("report", d, f"url-{d}") for d in DAYS]
    assert steps[-4:] == ["refresh", *reports]


def test_a_day_is_published_while_the_next_is_computed_in_day_order(steps: list[Any]) -> None:
    daily.audit_and_report(SimpleNamespace(), DAYS, None)
    d1, d2, d3 = DAYS
    assert _audits(steps) == [
        ("audit", d1),
        ("audit", d2),  # computed before d1's publication is waited for
        ("published", d1),
        ("audit", d3),
        ("published", d2),
        ("published", d3),
    ]


def test_a_failed_publication_stops_the_audits_and_the_next_day_is_never_published(
    steps: list[Any],
) -> None:
    """d2's publication fails while d3 is computed: d3 is not published, d1 is still refreshed and
    reported, and d2's failure is raised."""
    d1, d2, d3 = DAYS
    with pytest.raises(OSError, match=f"{d2} publication failed"):
        daily.audit_and_report(SimpleNamespace(publish_failing=d2), DAYS, None)
    assert _audits(steps) == [("audit", d1), ("audit", d2), ("published", d1), ("audit", d3)]
    assert steps[-2:] == ["refresh", ("report", d1, f"url-{d1}")]


def test_the_earlier_days_failure_is_raised_when_the_next_day_fails_too(steps: list[Any]) -> None:
    d1, d2, _ = DAYS
    with pytest.raises(OSError, match=f"{d1} publication failed"):
        daily.audit_and_report(SimpleNamespace(publish_failing=d1, failing=d2), DAYS, None)
    assert "refresh" not in steps  # nothing was published


def test_days_published_before_a_failure_are_still_reported(steps: list[Any]) -> None:
    with pytest.raises(RuntimeError, match="2026-03-11 failed"):
        daily.audit_and_report(SimpleNamespace(failing=DAYS[1]), DAYS, None)
    assert steps == [
        ("audit", DAYS[0]),
        ("published", DAYS[0]),
        "refresh",
        ("report", DAYS[0], f"url-{DAYS[0]}"),
    ]


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
    assert steps[-2:] == ["refresh", ("report", DAYS[0], "url-1")]


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


def test_a_run_of_an_older_day_rebuilds_the_newest_report_as_a_backfill_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`audit run --date D` refreshes the periods holding D; the newest published day's report
    shows them, so it is rebuilt too (before, only a backfill did)."""
    import contextlib

    refreshed: list[date] = []
    monkeypatch.setattr(daily, "resolve_run", lambda *args: SimpleNamespace(settings=None))
    monkeypatch.setattr(daily, "check_setup", lambda settings: None)
    monkeypatch.setattr(daily, "newest_ingested", lambda run: date(2026, 12, 31))
    monkeypatch.setattr(daily, "warehouse_slot", contextlib.nullcontext)
    monkeypatch.setattr(
        daily,
        "audit_and_report",
        lambda run, days, report: [{"audit_date": d, "report_url": "u"} for d in days],
    )
    monkeypatch.setattr(daily, "refresh_newest_report", lambda run, end: refreshed.append(end))
    result = daily.daily_audit.fn(audit_date=DAYS[0], ingest=False)
    assert refreshed == [DAYS[0]] and result["days"] == [{"audit_date": DAYS[0], "report_url": "u"}]


@pytest.mark.xdist_group("prefect")
def test_a_runs_reports_say_where_they_are(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A year's backfill renders its reports for minutes after its last day: each one finished
    is a line (before, the log said nothing that named a day)."""
    import contextlib

    from prefect import flow, task

    import report.workers

    @task
    def render(run: Any, day: date, data_docs_url: Any) -> str:
        return f"url-{day}"

    monkeypatch.setattr(daily, "publish_html_report", render)
    monkeypatch.setattr(report.workers, "rendering_pool", lambda days: contextlib.nullcontext(0))
    days = [SimpleNamespace(audit_date=d, data_docs_url=None) for d in DAYS]

    @flow
    def reports() -> list[Any]:
        return daily.publish_html_reports(SimpleNamespace(), days)  # type: ignore[arg-type]

    assert reports() == [f"url-{d}" for d in DAYS]
    messages = [r.getMessage() for r in caplog.records]
    assert "rendering 3 day reports (1 at a time)" in messages
    rendered = sorted(m for m in messages if m.startswith("report of "))
    assert len(rendered) == 3 and {m.split()[2] for m in rendered} == {d.isoformat() for d in DAYS}
    assert any(m.endswith("rendered: 3/3") for m in rendered)
