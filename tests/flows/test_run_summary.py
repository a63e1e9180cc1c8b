"""flows/summary.py: what a run tells people, from small frames worked out by hand."""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import flows.summary as flows_summary
from flows.summary import (
    failure_markdown,
    headline,
    reconciliation,
    review_frames,
    run_markdown,
    run_summary,
    scorecard_table,
    top_flags,
)

DAY = date(2026, 3, 13)
COUNTS = ("rows_read", "rows_accepted", "rows_quarantined", "rows_duplicate")


def _files(entity: str, *rows: tuple[int, int, int, int]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(COUNTS, pl.Int64), orient="row")
    return frame.with_columns(pl.lit(entity).alias("entity"))


def _ingested() -> pl.DataFrame:
    """Ledger entries of the day's objects: two tickets objects, one calls object, no events."""
    return pl.concat([_files("tickets", (10, 8, 2, 0), (5, 5, 0, 0)), _files("calls", (7, 3, 1, 3))])


def _scorecard() -> pl.DataFrame:
    """Two agents: follow-up 3/4 and 1/6 (averaged rates would say 45.8%, summed 40%)."""
    return pl.DataFrame(
        {
            "audit_date": [DAY, DAY],
            "agent_id": ["agent-1", "agent-2"],
            "team_id": ["team-a", "team-a"],
            "contacts": [5, 7],
            "follow_up_numerator": [3, 1],
            "follow_up_denominator": [4, 6],
            "follow_up_rate": [0.75, 1 / 6],
            "missed_escalation_numerator": [0, 1],
            "missed_escalation_denominator": [0, 2],
            "missed_escalation_rate": [None, 0.5],
            "first_contact_resolution_numerator": [0, 0],
            "first_contact_resolution_denominator": [0, 0],
            "first_contact_resolution_rate": [None, None],
            "talk_minutes": [12.5, 3.25],
        }
    )


def _flags() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "flag_type": [
                "low_concession_rate",
                "repeat_beneficiary",
                "high_concession_rate",
                "amount_outlier",
            ],
            "subject_type": ["agent", "customer", "agent", "concession"],
            "subject_id": ["agent-9", "cust-0042", "agent-1", "ev-7"],
            "observed": [0.01, 4.0, 0.251, 310.456],
            "expected": [0.05, 2.0, 0.05, 80.0],
            "p_value": [0.001, None, 0.0001, None],
            "q_value": [0.002, None, 0.0004, None],
            "evidence_ids": [["c-1"], ["ev-1", "ev-2", "ev-3", "ev-4"], ["ev-9", "ev-8"], ["ev-7"]],
        }
    )


def _follow_up() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "contact_id": ["c3", "c1", "c9", "c2", "c5", "c6"],
            "agent_id": ["agent-1", "agent-1", "agent-1", "agent-1", "agent-2", "agent-2"],
            "status": ["missed", "missed", "missed", "missed", "missed", "met"],
        }
    )


def _metrics() -> dict[str, pl.DataFrame]:
    return {
        "agent_scorecard": _scorecard(),
        "concession_flags": _flags(),
        "follow_up_audit": _follow_up(),
        "escalation_audit": pl.DataFrame(),
    }


def _published(status: str = "succeeded") -> Any:
    return SimpleNamespace(
        status=status,
        table_versions={"agent_scorecard": 4},
        data_docs_url="s3://reports/data_docs/audit_date=2026-03-13/run_id=r1/index.html",
    )


def _summary(status: str = "succeeded") -> dict[str, Any]:
    report = "s3://reports/audit_report/audit_date=2026-03-13/index.html"
    return run_summary("r1", DAY, "2026.11-1", _ingested(), _metrics(), _published(status), report)


# --- reconciliation and headline -------------------------------------------------------


def test_reconciliation_sums_each_entitys_files() -> None:
    expected = pl.DataFrame(
        {
            "entity": ["tickets", "ticket_events", "calls"],
            "files": [2, 0, 1],
            "rows_read": [15, 0, 7],
            "rows_accepted": [13, 0, 3],
            "rows_quarantined": [2, 0, 1],
            "rows_duplicate": [0, 0, 3],
        }
    )
    assert_frame_equal(reconciliation(_ingested()), expected)


def test_headline_sums_numerators_and_denominators() -> None:
    assert headline(_scorecard()) == {
        "follow_up": pytest.approx(0.4),
        "missed_escalation": pytest.approx(0.5),
        "first_contact_resolution": None,  # no denominator: no rate, not 0%
    }


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # no timing on a loaded machine
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(1, 50)).map(lambda t: (min(t), t[1])),
        min_size=1,
        max_size=8,
    )
)
def test_headline_rate_is_the_pooled_rate(parts: list[tuple[int, int]]) -> None:
    nums, dens = [n for n, _ in parts], [d for _, d in parts]
    frame = pl.DataFrame({"follow_up_numerator": nums, "follow_up_denominator": dens})
    rate = headline(frame)["follow_up"]
    assert rate == pytest.approx(sum(nums) / sum(dens))
    rates = [n / d for n, d in parts]
    assert min(rates) - 1e-12 <= rate <= max(rates) + 1e-12  # type: ignore[operator]


# --- run summary and markdown ----------------------------------------------------------


def test_run_summary_records_inputs_outputs_and_links() -> None:
    summary = _summary()
    assert summary["validation_passed"] is True
    assert summary["rows"] == {
        "agent_scorecard": 2,
        "concession_flags": 4,
        "follow_up_audit": 6,
        "escalation_audit": 0,
    }
    assert summary["table_versions"] == {"agent_scorecard": 4}
    assert [i["rows_read"] for i in summary["inputs"]] == [15, 0, 7]
    assert summary["report_url"].endswith("audit_report/audit_date=2026-03-13/index.html")


def test_markdown_shows_pooled_headline_rates_and_links() -> None:
    text = run_markdown(_summary(), _metrics())
    assert "- Follow-up: 40.0%" in text
    assert "- Missed escalation: 50.0%" in text
    assert "- First-contact resolution: n/a" in text
    assert "- Reopen: n/a" in text
    assert "- HTML report: s3://reports/audit_report/audit_date=2026-03-13/index.html" in text
    assert "- Data Docs: s3://reports/data_docs/audit_date=2026-03-13/run_id=r1/index.html" in text
    assert "validation **passed**" in text


def test_markdown_from_the_review_frames_equals_the_full_tables() -> None:
    """A day waits for its report with only its review frames: the artifact must not change."""
    metrics = _metrics()
    review = review_frames(metrics)
    assert run_markdown(_summary(), review) == run_markdown(_summary(), metrics)
    assert review["follow_up_audit"]["status"].unique().to_list() == ["missed"]


def test_markdown_says_when_validation_failed() -> None:
    assert "validation **FAILED (nothing published for the day)**" in run_markdown(
        _summary("failed"), _metrics()
    )


def test_markdown_lists_missed_follow_ups_by_agent_most_first() -> None:
    text = run_markdown(_summary(), _metrics())
    section = text.split("## Missed follow-ups by agent")[1].split("##")[0]
    assert "| agent-1 | 4 | c1, c2, c3 |" in section
    assert "| agent-2 | 1 | c5 |" in section
    assert section.index("agent-1") < section.index("agent-2")
    assert "c6" not in section  # met
    assert "## Missed escalations by agent\n_none_" in text


# --- concession flags ------------------------------------------------------------------


def test_top_flags_drop_low_rates_and_hide_customer_ids() -> None:
    expected = pl.DataFrame(
        {
            "flag_type": ["amount_outlier", "high_concession_rate", "repeat_beneficiary"],
            "subject_type": ["concession", "agent", "customer"],
            "subject": ["ev-7", "agent-1", "(customer)"],
            "observed": [310.46, 0.25, 4.0],
            "expected": [80.0, 0.05, 2.0],
            "q_value": [None, 0.0004, None],
            "evidence (first 3)": ["ev-7", "ev-9, ev-8", "ev-1, ev-2, ev-3"],
        }
    )
    assert_frame_equal(top_flags(_flags()), expected)


def test_markdown_never_shows_a_customer_id_or_a_low_rate_flag() -> None:
    text = run_markdown(_summary(), _metrics())
    assert "cust-0042" not in text
    assert "low_concession_rate" not in text
    assert "agent-9" not in text
    assert "| repeat_beneficiary | customer | (customer) |" in text


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.from_regex(r"cust-[0-9a-z]{6}", fullmatch=True), min_size=1, max_size=5, unique=True))
def test_no_customer_id_reaches_the_markdown(customers: list[str]) -> None:
    flags = pl.DataFrame(
        {
            "flag_type": ["repeat_beneficiary"] * len(customers),
            "subject_type": ["customer"] * len(customers),
            "subject_id": customers,
            "observed": [3.0] * len(customers),
            "expected": [1.0] * len(customers),
            "p_value": [None] * len(customers),
            "q_value": [None] * len(customers),
            "evidence_ids": [["ev-1"]] * len(customers),
        },
        schema_overrides={"p_value": pl.Float64, "q_value": pl.Float64},
    )
    text = run_markdown(_summary(), {**_metrics(), "concession_flags": flags})
    assert not any(c in text for c in customers)
    assert text.count("(customer)") == len(customers)


# --- table artifact and failure note ---------------------------------------------------


def test_scorecard_table_keeps_volumes_and_rates_rounded() -> None:
    rows = scorecard_table(_scorecard())
    assert list(rows[0]) == [
        "agent_id",
        "team_id",
        "contacts",
        "follow_up_numerator",
        "follow_up_denominator",
        "follow_up_rate",
        "missed_escalation_numerator",
        "missed_escalation_denominator",
        "missed_escalation_rate",
        "first_contact_resolution_numerator",
        "first_contact_resolution_denominator",
        "first_contact_resolution_rate",
    ]
    assert [r["follow_up_rate"] for r in rows] == [0.75, 0.1667]


def test_failure_markdown_says_what_failed_and_where_the_data_docs_are() -> None:
    text = failure_markdown(
        "brave-owl",
        {"audit_date": "2026-03-13", "landing": None},
        "validation failed for audit_date 2026-03-13 run r1: 1 critical expectation(s) failed:\n  x",
        data_docs_index="s3://reports/data_docs/index.html",
    )
    assert text.startswith("# support-audit run `brave-owl` failed")
    assert "Parameters: audit_date=2026-03-13\n" in text
    assert "1 critical expectation(s) failed" in text
    assert text.endswith("- Data Docs (every run, by audit date): s3://reports/data_docs/index.html")


def test_failure_markdown_without_a_known_reports_uri() -> None:
    text = failure_markdown("brave-owl", {}, None)
    assert "Parameters: (defaults)" in text
    assert "no message" in text
    assert "Data Docs (every run" not in text


def test_ids_from_the_exports_cannot_break_a_table_or_become_links() -> None:
    frame = pl.DataFrame(
        {"agent_id": ["a|b", "[x](http://evil)", "<img src=x>", "*star*"], "n": [1, 2, 3, None]}
    )
    table = flows_summary._markdown_table(frame)
    assert table.splitlines() == [
        "| agent_id | n |",
        "|---|---|",
        "| a\\|b | 1 |",
        "| \\[x\\](http://evil) | 2 |",
        "| \\<img src=x\\> | 3 |",
        "| \\*star\\* |  |",
    ]
    # every row still has exactly the table's two cells: unescaped pipes only
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 3 for line in table.splitlines())


def test_a_failure_message_with_backticks_stays_inside_its_code_fence() -> None:
    text = failure_markdown("brave-owl", {}, "bad value ```\n# not a heading")
    assert "````\nbad value ```\n# not a heading\n````" in text


def test_report_links_for_artifacts_follow_the_web_address_of_the_reports(tmp_path) -> None:
    from flows.summary import web_links

    reports = "s3://bucket/audit/reports"
    report = f"{reports}/audit_report/audit_date=2026-11-20/index.html"
    docs = f"{reports}/data_docs/audit_date=2026-11-20/run_id=r1/index.html"
    assert web_links(reports, "https://audit.example.com/r/", report, docs) == {
        "HTML report": "https://audit.example.com/r/audit_report/audit_date=2026-11-20/index.html",
        "Data Docs": "https://audit.example.com/r/data_docs/audit_date=2026-11-20/run_id=r1/index.html",
    }
    assert web_links(reports, None, report, docs) == {}  # no web address: no link artifacts
    assert web_links(reports, "https://x", "s3://other/report.html", None) == {}  # not under reports_uri
    folder = tmp_path / "reports"
    local = str(folder / "audit_report" / "index.html")
    assert web_links(str(folder), "http://host:8000", local, None) == {
        "HTML report": "http://host:8000/audit_report/index.html"
    }
