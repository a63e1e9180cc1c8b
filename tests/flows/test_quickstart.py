"""The quickstart end to end on a small sample, and the summary it prints."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from devtools.quickstart import _with_local_links, reconciliation_lines


def test_reconciliation_lines_show_every_count_per_entity():
    lines = reconciliation_lines(
        [
            {
                "entity": "tickets",
                "files": 3,
                "rows_read": 1200,
                "rows_accepted": 1180,
                "rows_quarantined": 15,
                "rows_duplicate": 5,
            },
        ]
    )
    assert lines[0].split() == ["entity", "files", "read", "accepted", "quarantined", "duplicate"]
    assert lines[1].split() == ["tickets", "3", "1,200", "1,180", "15", "5"]


def test_s3_links_are_rewritten_to_the_local_copy(tmp_path):
    result = {
        "report_url": "s3://b/reports/audit_report/audit_date=2026-03-13/index.html",
        "data_docs_url": "s3://b/reports/data_docs/index.html",
        "audit_date": "2026-03-13",
    }
    out = _with_local_links(result, "s3://b/reports", tmp_path)
    assert out["report_url"] == str(tmp_path / "audit_report/audit_date=2026-03-13/index.html")
    assert out["data_docs_url"] == str(tmp_path / "data_docs/index.html")
    assert out["audit_date"] == "2026-03-13"


@pytest.mark.integration
@pytest.mark.xdist_group("prefect-quickstart")
def test_quickstart_runs_the_flows_and_says_where_everything_is(quickstart_run: tuple[Path, str]):
    root, text = quickstart_run
    # The newest mature day (newest export − 3 days) and the week before it.
    assert "audit day            2026-03-13 (validation passed)" in text
    assert "backfilled           2026-03-06 .. 2026-03-12" in text
    report = root / "reports" / "audit_report" / "audit_date=2026-03-13" / "index.html"
    assert str(report.resolve()) in text
    assert report.exists()
    assert "data_docs" in text
    # The one line that lets the user run the audit on the quickstart's folders with its key.
    key_file = root / ".pseudonym-key"
    assert (
        f"Run it yourself: export AUDIT_PSEUDONYM_KEY=$(cat {key_file}); .venv/bin/audit run --landing"
        in text
    )
    assert key_file.stat().st_mode & 0o777 == 0o600
    entities = [
        line.split()[0]
        for line in text.splitlines()
        if line.startswith("  ticket") or line.startswith("  calls")
    ]
    assert entities == ["tickets", "ticket_events", "calls"]
    scorecard = pl.read_delta(str(root / "warehouse" / "agent_scorecard"))
    days = sorted(scorecard["audit_date"].unique().cast(pl.String).to_list())
    # 2026-03-06 .. 03-13 audited, plus the refreshed final day 2026-03-09 (inside that range).
    assert days == [f"2026-03-{d:02d}" for d in range(6, 14)]
