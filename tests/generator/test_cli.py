"""`audit generate`: a thin command over generate_exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


def test_generate_help_lists_the_knobs() -> None:
    result = runner.invoke(app, ["generate", "--help"])
    assert result.exit_code == 0
    for option in ("--landing", "--end-date", "--days", "--scale", "--seed", "--bad-row-share", "--formats"):
        assert option in result.output


def test_app_help_names_the_generate_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "generate" in result.output


def test_generate_writes_exports_and_prints_a_summary(tmp_path: Path) -> None:
    args = [
        "generate",
        "--landing",
        str(tmp_path),
        "--days",
        "3",
        "--end-date",
        "2026-11-22",
        "--agents",
        "8",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    plants = json.loads((tmp_path / "_generator" / "plants.json").read_text())
    assert plants["generator"]["start_date"] == "2026-11-20"
    for entity in ("tickets", "ticket_events", "calls"):
        assert entity in result.output
    for key in ("no_follow_up_agent", "high_concession_agent", "no_escalation_agent"):
        assert plants[key] in result.output
    assert plants["repeat_beneficiary"]["customer_id"] in result.output


def test_end_date_defaults_to_yesterday(tmp_path: Path) -> None:
    before = datetime.now(UTC).date() - timedelta(days=1)
    result = runner.invoke(
        app, ["generate", "--landing", str(tmp_path), "--days", "1", "--bad-row-share", "0"]
    )
    after = datetime.now(UTC).date() - timedelta(days=1)
    assert result.exit_code == 0, result.output
    end = json.loads((tmp_path / "_generator" / "plants.json").read_text())["generator"]["end_date"]
    assert end in {before.isoformat(), after.isoformat()}


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--landing", str(tmp_path), "--formats", "parquet,xml"])
    assert result.exit_code != 0
    assert not (tmp_path / "tickets").exists()


def test_fewer_agents_than_the_generator_needs_is_said_not_silently_changed(tmp_path: Path) -> None:
    args = ["generate", "--landing", str(tmp_path), "--days", "1", "--end-date", "2026-11-22"]
    args += ["--agents", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "note: 8 agents, not 3: the planted agents need peers" in result.output
    plants = json.loads((tmp_path / "_generator" / "plants.json").read_text())
    assert plants["generator"]["agents"] == 8  # what was generated
