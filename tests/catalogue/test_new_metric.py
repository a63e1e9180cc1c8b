"""Adding a rate metric is a family change only: declared in the family's METRICS and computed in
its parts, it reaches the scorecards, their suite, the report and docs/outputs.md.

The fixture adds a throwaway rate, `callback_kept` (promised callbacks followed up in time), to
the follow-up family the way a developer would, and changes nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

import catalogue
from configs.policy import Policy
from configs.settings import load_settings
from devtools import outputs_doc
from tests.metrics.frames import calls_frame, events_frame, tickets_frame, ts
from transforms import follow_up
from transforms.audit import CanonicalTables, collect_audit, run_audit
from transforms.contacts import AuditWindow
from transforms.parts import FamilyResult, Metric, rate_part
from transforms.scope import DayScope

D = dt.date(2026, 3, 2)
WINDOW = AuditWindow(D, "UTC", ts("2026-03-10T00:00:00Z"))
KEY = b"k" * 32
CALLBACK_KEPT = Metric(
    "callback_kept",
    "rate",
    label="Callback kept",
    description="Promised callbacks whose window has closed, and those followed up in time.",
    anchor="1-follow-up",
)


def _call(call_id: str, customer: str, direction: str, start: str, outcome: str | None) -> dict:
    at = ts(f"2026-03-02T{start}:00Z")
    return {
        "call_id": call_id,
        "customer_id": customer,
        "agent_id": "a1",
        "team_id": "T1",
        "direction": direction,
        "category": "billing",
        "initiated_at": at,
        "answered_at": at + dt.timedelta(minutes=1),
        "ended_at": at + dt.timedelta(minutes=10),
        "outcome": outcome,
    }


# k1 promised a callback and got one three hours later (k2); k3 promised one and never got it.
CALLS = calls_frame(
    _call("k1", "c1", "inbound", "09:00", "callback_promised"),
    _call("k2", "c1", "outbound", "12:00", "resolved"),
    _call("k3", "c2", "inbound", "14:00", "callback_promised"),
)
INPUTS = CanonicalTables(tickets_frame(), events_frame(), CALLS)


def _promised_parts(evidence: pl.LazyFrame) -> pl.LazyFrame:
    final = evidence.filter((pl.col("eligibility") == "callback_promised") & (pl.col("status") != "pending"))
    return rate_part(final, "callback_kept", pl.col("status") == "met")


@pytest.fixture
def with_callback_kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The family declares the metric and emits its parts; the catalogue is re-read from it."""
    original = follow_up.audit_follow_up

    def audit_follow_up(scope: DayScope, window: AuditWindow, policy: Policy) -> FamilyResult:
        result = original(scope, window, policy)
        extra = _promised_parts(result.tables[follow_up.TABLE])
        return replace(result, rate_parts=pl.concat([result.rate_parts, extra]))

    monkeypatch.setattr(follow_up, "METRICS", (*follow_up.METRICS, CALLBACK_KEPT))
    monkeypatch.setattr(follow_up, "audit_follow_up", audit_follow_up)
    monkeypatch.setattr(catalogue, "METRICS", catalogue.gather_metrics())
    monkeypatch.setattr(catalogue, "TABLES", catalogue.build_tables())
    yield


def _audit() -> dict[str, pl.DataFrame]:
    return collect_audit(run_audit(INPUTS, WINDOW, Policy(version="test")))


def test_the_new_rate_reaches_the_scorecards(with_callback_kept: None) -> None:
    (row,) = _audit()["agent_scorecard"].to_dicts()
    assert (row["callback_kept_numerator"], row["callback_kept_denominator"]) == (1, 2)
    assert row["callback_kept_rate"] == 0.5
    assert row["callback_kept_ci_low"] < 0.5 < row["callback_kept_ci_high"]
    assert row["is_callback_kept_low_volume"] is True
    (team,) = _audit()["team_scorecard"].to_dicts()
    assert (team["callback_kept_numerator"], team["callback_kept_denominator"]) == (1, 2)


def test_without_the_declaration_its_parts_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts the catalogue does not publish are an error, never silently dropped."""
    original = follow_up.audit_follow_up

    def undeclared(scope: DayScope, window: AuditWindow, policy: Policy) -> FamilyResult:
        result = original(scope, window, policy)
        extra = _promised_parts(result.tables[follow_up.TABLE])
        return replace(result, rate_parts=pl.concat([result.rate_parts, extra]))

    monkeypatch.setattr(follow_up, "audit_follow_up", undeclared)
    with pytest.raises(Exception, match="callback_kept"):
        _audit()


def _publish(tmp_path: Path, tables: dict[str, pl.DataFrame]) -> object:
    from catalogue import TABLES
    from warehouse.publish import write_audit_publish_frames

    quarantine = pl.DataFrame(
        schema={c.name: c.dtype for c in TABLES["quarantine"].columns if c.name != "run_id"}
    )
    settings = load_settings(warehouse_uri=str(tmp_path / "warehouse"), reports_uri=str(tmp_path / "reports"))
    frames = {n: getattr(INPUTS, n).collect() for n in ("tickets", "ticket_events", "calls")}
    return write_audit_publish_frames(
        frames,
        {**tables, "quarantine": quarantine},
        pl.DataFrame(),
        settings=settings,
        policy=Policy(version="test"),
        audit_date=D,
        run_id="r1",
        key=KEY,
    )


def test_the_new_rate_is_validated_published_and_reported(with_callback_kept: None, tmp_path: Path) -> None:
    from report.build import build_report
    from warehouse.delta import read_table

    result = _publish(tmp_path, _audit())
    assert result.status == "succeeded"  # type: ignore[attr-defined]
    docs = "".join(p.read_text(errors="replace") for p in (tmp_path / "reports").rglob("*.json"))
    assert "callback_kept" in docs  # the rates view's validation results name the new metric
    published = read_table(str(tmp_path / "warehouse"), "agent_scorecard", audit_date=D)
    assert published.select("callback_kept_numerator", "callback_kept_denominator").row(0) == (1, 2)
    html = build_report(str(tmp_path / "warehouse"), D)
    assert "Callback kept" in html
    assert 'data-metric="callback_kept"' in html


def test_the_suite_checks_the_new_rate(with_callback_kept: None, tmp_path: Path) -> None:
    """A broken value of the new metric fails the agent scorecard's critical rate rules."""
    from expectations.gate import ValidationFailed

    tables = _audit()
    broken = tables["agent_scorecard"].with_columns(
        pl.lit(3, dtype=pl.Int64).alias("callback_kept_numerator")
    )
    with pytest.raises(ValidationFailed, match="callback_kept"):
        _publish(tmp_path, {**tables, "agent_scorecard": broken})


def test_the_new_rate_is_documented(with_callback_kept: None) -> None:
    text = outputs_doc.render()
    for column in ("callback_kept_numerator", "callback_kept_rate", "is_callback_kept_low_volume"):
        assert f"| `{column}` |" in text
    assert "| `callback_kept` | rate | follow_up | Callback kept |" in text
