"""The shared slot `support-audit-warehouse`: a daily, a backfill and an ingest queue behind each
other for their ingest as well as their audits (flows/daily.py `warehouse_slot`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from typing import Any

import pytest
from prefect import flow

from flows import daily
from flows.daily import ensure_warehouse_concurrency_limit, warehouse_slot


@pytest.mark.xdist_group("prefect")
def test_a_second_run_waits_for_the_slot_and_says_so(
    prefect_harness, caplog: pytest.LogCaptureFixture
) -> None:
    ensure_warehouse_concurrency_limit()
    held, release = threading.Event(), threading.Event()
    entered: dict[str, float] = {}

    @flow
    def first() -> None:
        with warehouse_slot():
            held.set()
            release.wait(30)
            entered["first released"] = time.monotonic()

    @flow
    def second() -> None:
        with warehouse_slot():
            entered["second"] = time.monotonic()

    holder = threading.Thread(target=first)
    holder.start()
    assert held.wait(60)
    waiter = threading.Thread(target=second)
    waiter.start()
    time.sleep(3)
    assert "second" not in entered  # the slot is held: the second run waits
    release.set()
    holder.join(60)
    waiter.join(60)
    assert entered["second"] >= entered["first released"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("taking the shared slot support-audit-warehouse" in m for m in messages) == 2
    assert any(m.startswith("got the shared slot support-audit-warehouse after") for m in messages)


def test_the_daily_and_backfill_flows_ingest_inside_the_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, the ingest ran before the slot was taken: a backfill started beside a daily run
    failed at the store's lease (exit code 6) instead of queueing."""
    inside: list[bool] = []
    holding = False

    @contextmanager
    def slot() -> Iterator[None]:
        nonlocal holding
        holding = True
        yield
        holding = False

    def ingest(run: Any, **_: Any) -> None:
        inside.append(holding)

    result = [{"audit_date": "2026-11-20", "report_url": None}]
    monkeypatch.setattr(daily, "warehouse_slot", slot)
    run = type("Run", (), {"settings": type("Settings", (), {"backfill_cluster": None})()})()
    monkeypatch.setattr(daily, "resolve_run", lambda *a: run)
    monkeypatch.setattr(daily, "ingest_new_exports", ingest)
    monkeypatch.setattr(daily, "check_setup", lambda settings: None)
    monkeypatch.setattr(daily, "newest_ingested", lambda run: date(2026, 12, 31))
    monkeypatch.setattr(daily, "audit_and_report", lambda *a: result)
    monkeypatch.setattr(daily, "refresh_newest_report", lambda *a: None)
    monkeypatch.setattr(daily, "get_run_logger", lambda: None)
    monkeypatch.setattr(daily, "BackfillProgress", lambda days: None)
    daily.daily_audit.fn(audit_date=date(2026, 11, 20))
    daily.backfill.fn(start=date(2026, 11, 19), end=date(2026, 11, 20))
    quiet = staticmethod(lambda *a: "")
    monkeypatch.setattr(daily, "summary", type("S", (), {"ingest_summary": quiet, "ingest_markdown": quiet}))
    monkeypatch.setattr(daily, "create_markdown_artifact", lambda **_: None)
    daily.ingest_flow.fn()
    assert inside == [True, True, True]


@pytest.mark.parametrize("flow_name", ["daily_audit", "backfill"])
def test_a_day_after_the_newest_export_is_refused_not_published(
    monkeypatch: pytest.MonkeyPatch, flow_name: str
) -> None:
    """A mistyped --date (or --end) past the data published a day with no contacts of its own,
    its flags carried over from the days before; now the run stops (exit code 5)."""
    from flows.errors import NoInput

    audited: list[Any] = []
    run = type("Run", (), {"settings": type("Settings", (), {"backfill_cluster": None})()})()
    monkeypatch.setattr(daily, "resolve_run", lambda *a: run)
    monkeypatch.setattr(daily, "check_setup", lambda settings: None)
    monkeypatch.setattr(daily, "warehouse_slot", nullcontext)
    monkeypatch.setattr(daily, "newest_ingested", lambda run: date(2026, 11, 30))
    monkeypatch.setattr(daily, "audit_and_report", lambda *a: audited.append(a) or [])
    flow = getattr(daily, flow_name).fn
    days = (
        {"audit_date": date(2026, 12, 5)}
        if flow_name == "daily_audit"
        else {"start": date(2026, 11, 29), "end": date(2026, 12, 1)}
    )
    with pytest.raises(NoInput, match=r"2026-12-0[15] is after the newest export day ingested, 2026-11-30"):
        flow(**days, ingest=False)
    assert audited == []
