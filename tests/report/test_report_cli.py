"""`audit report`: the terminal views, driven through Typer like the real command."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
import typer
from report_fixtures import (
    A2_EVIDENCE,
    PLANTED_RAW_ID,
    PLANTED_TEXT,
    D,
    build_warehouse,
    frame,
    manifest_rows,
    parse_page,
    write_table,
)
from typer.testing import CliRunner

from report.cli import report
from report.tables import AuditDay
from report.terminal import _evidence, _flags_for

app = typer.Typer()
app.command("report")(report)


@app.callback()
def main() -> None:
    """A stand-in for the `audit` app."""


runner = CliRunner()


def run(warehouse: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["report", "--date", D.isoformat(), "--warehouse", str(warehouse), *args])
    return result.exit_code, result.stdout, result.stderr


def test_table_view_shows_rates_intervals_low_volume_and_flags(shared_warehouse: Path) -> None:
    code, out, _ = run(shared_warehouse, "--wide")
    assert code == 0
    assert "run-20261120-a" in out and "validation passed" in out
    assert "75.0% 15/20" in out and "[53–89%]" in out
    assert "0.0% 0/8" in out and "low volume" in out
    assert "high_concession_rate" in out and "E-501, E-502" in out


@pytest.mark.parametrize(
    ("agent", "flag_types"),
    [
        ("a1", ["repeat_beneficiary"]),  # C-503, one of the customer's concessions, is a1's
        ("a2", ["high_concession_rate", "repeat_beneficiary"]),
        ("a3", []),
    ],
)
def test_json_for_one_agent_has_their_row_and_the_flags_that_concern_them(
    shared_warehouse: Path, agent: str, flag_types: list[str]
) -> None:
    code, out, _ = run(shared_warehouse, "--agent", agent, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["audit_date"] == "2026-11-20"
    assert [row["agent_id"] for row in document["scorecard"]] == [agent]
    assert [flag["flag_type"] for flag in document["flags"]] == flag_types


def test_json_numbers_are_the_published_ones(shared_warehouse: Path) -> None:
    code, out, _ = run(shared_warehouse, "--agent", "a3", "--format", "json", "--section", "scorecard")
    assert code == 0
    document = json.loads(out)
    assert "flags" not in document
    (row,) = document["scorecard"]
    assert (row["follow_up_numerator"], row["follow_up_denominator"], row["follow_up_rate"]) == (0, 8, 0.0)
    assert row["is_follow_up_low_volume"] is True
    assert (row["missed_escalation_numerator"], row["missed_escalation_denominator"]) == (2, 3)
    assert row["first_reply_minutes_median"] == 12.5


def test_csv_for_a_team_is_one_scorecard_table(shared_warehouse: Path) -> None:
    code, out, _ = run(shared_warehouse, "--team", "t1", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["agent_id"] for r in rows] == ["a1", "a2"]
    assert [r["follow_up_numerator"] for r in rows] == ["15", "2"]
    assert [r["follow_up_rate"] for r in rows] == ["0.75", "0.4"]
    assert [r["is_follow_up_low_volume"] for r in rows] == ["false", "true"]


def test_csv_flags_join_evidence_ids(shared_warehouse: Path) -> None:
    code, out, _ = run(shared_warehouse, "--format", "csv", "--section", "flags")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["evidence_ids"] for r in rows] == ["E-501;E-502", "E-501;E-502;C-503"]
    assert rows[0]["q_value"] == "0.000144"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agent", "zz"], "no scorecard row for agent 'zz'"),
        (["--team", "t1", "--agent", "a3"], "no scorecard row for agent 'a3' and team 't1'"),
        (["--format", "csv", "--section", "all"], "--format csv writes one table"),
    ],
)
def test_nothing_to_show_exits_1_with_a_reason(shared_warehouse: Path, args: list[str], message: str) -> None:
    code, out, err = run(shared_warehouse, *args)
    assert code == 1
    assert message in err
    assert out == ""


def test_a_day_without_tables_exits_1(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "empty-warehouse")
    assert code == 1
    assert "no audit tables published for 2026-11-20" in err


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_no_raw_customer_ids_in_terminal_output(shared_warehouse: Path, fmt: str) -> None:
    outputs = [
        run(shared_warehouse, "--format", fmt, "--section", section)[1] for section in ("scorecard", "flags")
    ]
    for out in outputs:
        assert out
        assert PLANTED_RAW_ID not in out and PLANTED_TEXT not in out


def test_html_option_writes_the_report_with_an_absolute_docs_link(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse"
    build_warehouse(warehouse)
    docs = tmp_path / "reports" / "data_docs" / "audit_date=2026-11-20" / "run_id=r1" / "index.html"
    shutil.rmtree(warehouse / "run_manifest")
    write_table(
        warehouse, "run_manifest", frame([row | {"data_docs_uri": str(docs)} for row in manifest_rows()])
    )
    target = tmp_path / "elsewhere" / "report.html"
    target.parent.mkdir()
    code, _, err = run(warehouse, "--section", "flags", "--html", str(target))
    assert code == 0
    page = parse_page(target.read_text(encoding="utf-8"))
    assert page.find("a", id="data-docs")[0].attrs["href"] == docs.as_uri()
    assert str(target) in err


def test_an_agent_sees_the_late_amount_outlier_of_a_concession_granted_before_the_day() -> None:
    """A late amount_outlier (granted_on < D) names a concession that is not in D's
    concession_audit; the flag's agent_id (the granting agent) ties it to the agent."""
    late = {
        "flag_type": "amount_outlier",
        "subject_type": "concession",
        "subject_id": "E-400",
        "evidence_ids": ["E-400"],
        "agent_id": "a1",
        "granted_on": D - timedelta(days=4),
    }
    flags = pl.DataFrame([late])
    day = AuditDay(D, None, None, None, None, None, flags, None, None)
    assert _flags_for(flags, day, ["a1"])["subject_id"].to_list() == ["E-400"]
    assert _flags_for(flags, day, ["a2"]).is_empty()


# --- periods and spans ------------------------------------------------------------------------------


def _a1(out: str) -> dict:
    return next(row for row in json.loads(out)["scorecard"] if row["agent_id"] == "a1")


def test_period_prints_the_published_period_holding_the_day(v2_warehouse: Path) -> None:
    # The week's published row says 1 of 4 (the fixture's, not a sum of its days: read, not recomputed).
    code, out, _ = run(v2_warehouse, "--period", "week", "--format", "json")
    assert code == 0
    row = _a1(out)
    assert (row["period"], row["period_start"]) == ("week", "2026-11-16")
    assert (row["follow_up_numerator"], row["follow_up_denominator"], row["follow_up_rate"]) == (1, 4, 0.25)
    code, out, _ = run(v2_warehouse, "--period", "rolling", "--format", "json")
    assert (_a1(out)["follow_up_numerator"], _a1(out)["follow_up_denominator"]) == (33, 44)
    code, out, _ = run(v2_warehouse, "--period", "week")
    assert code == 0 and "Scorecard of week 2026-11-16 to 2026-11-22 (5 published days)" in out


def test_from_to_sums_the_published_days(v2_warehouse: Path) -> None:
    # a1 followed up 1 of 1 on D-1 and 15 of 20 on D: 16 of 21 over the two days, never (100% + 75%) / 2.
    first = (D - timedelta(days=1)).isoformat()
    result = runner.invoke(
        app,
        [
            "report",
            "--from",
            first,
            "--to",
            D.isoformat(),
            "--warehouse",
            str(v2_warehouse),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    row = _a1(result.stdout)
    assert (row["period_start"], row["period_end"], row["active_days"]) == (first, D.isoformat(), 2)
    assert (row["follow_up_numerator"], row["follow_up_denominator"]) == (16, 21)
    assert row["follow_up_rate"] == pytest.approx(16 / 21)


def test_a_period_not_yet_published_and_half_a_span_are_refused(shared_warehouse: Path) -> None:
    code, _, err = run(shared_warehouse, "--period", "month")
    assert code == 1 and "no month scorecard published" in err
    result = runner.invoke(app, ["report", "--from", D.isoformat(), "--warehouse", str(shared_warehouse)])
    assert result.exit_code == 2 and "--from and --to go together" in result.stderr


def test_the_table_view_fits_120_columns_and_wide_shows_every_metric(shared_warehouse: Path) -> None:
    code, out, _ = run(shared_warehouse)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 120
    assert "more columns with --wide" in out
    assert "Reopen" in out or "reopen" in out.lower()  # a headline rate stays
    code, wide, _ = run(shared_warehouse, "--wide")
    assert code == 0 and max(len(line) for line in wide.splitlines()) > 120
    assert "more columns with --wide" not in wide


def test_long_evidence_lists_are_cut_with_a_count_unless_wide() -> None:
    ids = [f"E-{i}" for i in range(1, 9)]
    assert _evidence(ids, wide=False) == "E-1, E-2, E-3, E-4, E-5 … (+3 more)"
    assert _evidence(ids, wide=True) == ", ".join(ids)
    assert _evidence(ids[:5], wide=False) == "E-1, E-2, E-3, E-4, E-5"


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        ("a1", []),
        ("a2", [("follow_up", "centre", "below_peers", "ongoing", 3, 2, 50, 0.03)]),
        (
            "a3",
            [
                ("follow_up", "centre", "above_peers", "new", 1, 30, 60, 0.001),
                ("follow_up", "team", "above_peers", "new", 1, 30, 60, 0.004),
            ],
        ),
    ],
)
def test_json_for_one_agent_has_their_peer_flags(
    v2_warehouse: Path, agent: str, expected: list[tuple]
) -> None:
    """A QA lead reviewing an agent sees the peer flags (rolling 28 days ending on the day) beside
    the concession flags; a cleared flag (a5's) is no longer a flag."""
    code, out, _ = run(v2_warehouse, "--agent", agent, "--format", "json")
    assert code == 0
    flags = json.loads(out)["peer_flags"]
    got = [
        (
            f["metric"],
            f["comparison"],
            f["flag_type"],
            f["status"],
            f["consecutive_days"],
            f["numerator"],
            f["denominator"],
            f["q_value"],
        )
        for f in flags
    ]
    assert got == expected
    assert all(f["agent_id"] == agent for f in flags)
    if agent == "a2":
        assert flags[0]["evidence_ids"] == A2_EVIDENCE


def test_the_table_view_lists_peer_flags_and_concession_flags_carry_their_lifecycle(
    v2_warehouse: Path,
) -> None:
    code, out, _ = run(v2_warehouse, "--wide")
    assert code == 0
    assert "Peer flags, rolling 28 days (3)" in out and "below_peers" in out and "above_peers" in out
    code, out, _ = run(v2_warehouse, "--format", "json")
    flags = {f["flag_type"]: f for f in json.loads(out)["flags"]}
    assert flags["high_concession_rate"]["status"] == "new"
    assert (flags["repeat_beneficiary"]["status"], flags["repeat_beneficiary"]["consecutive_days"]) == (
        "ongoing",
        4,
    )


def test_from_to_marks_low_volume_with_the_policy_given(v2_warehouse: Path, tmp_path: Path) -> None:
    """16/21 is not low volume under the default min_volume 20, and is under a policy of 25."""
    first = (D - timedelta(days=1)).isoformat()
    args = ["report", "--from", first, "--to", D.isoformat(), "--warehouse", str(v2_warehouse), "-f", "json"]
    default = _a1(runner.invoke(app, args).stdout)
    policy = tmp_path / "policy.toml"
    text = (Path(__file__).parents[2] / "configs" / "policy.toml").read_text()
    policy.write_text(text.replace("min_volume = 20", "min_volume = 25", 1))
    stricter = _a1(runner.invoke(app, [*args, "--policy", str(policy)]).stdout)
    assert (default["is_follow_up_low_volume"], stricter["is_follow_up_low_volume"]) == (False, True)
