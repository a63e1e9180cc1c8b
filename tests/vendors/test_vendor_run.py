"""`audit run` on a Zendesk + Connect landing: a real Prefect flow run reads the vendor exports
through the mapping, validates and publishes the day like any other."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from flows.cli import app
from storage import LocalStorage
from tests.vendors import vendor_fixtures as fx

PSEUDONYM_KEY = "vendor-test-key-0123456789"


@pytest.mark.integration
@pytest.mark.xdist_group("prefect")
def test_audit_run_publishes_a_day_read_from_vendor_exports(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fx.write_landing(LocalStorage(str(tmp_path / "landing")))
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(fx.MAPPING_TOML)
    monkeypatch.setenv("AUDIT_LANDING_VENDOR", "zendesk+connect")
    monkeypatch.setenv("AUDIT_VENDOR_MAPPING_PATH", str(mapping))
    monkeypatch.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    places = [f"--{name}={tmp_path / name}" for name in ("landing", "warehouse", "reports")]
    result = CliRunner().invoke(app, ["run", "--date", "2026-03-02", *places])
    assert result.exit_code == 0, result.output
    scorecard = pl.from_arrow(DeltaTable(str(tmp_path / "warehouse" / "agent_scorecard")).to_pyarrow_table())
    assert isinstance(scorecard, pl.DataFrame)
    ana = scorecard.filter(pl.col("agent_id") == "501").row(0, named=True)
    assert (ana["tickets_solved"], ana["calls_answered"], ana["agent_interruptions"]) == (2, 2, 3)
    # The fixture's mapping names no survey attribute: satisfaction is withheld, not 0 %.
    assert ana["withheld_metrics"] == ["satisfaction_confirmed: connect.satisfaction_attribute is unset"]
    assert ana["satisfaction_confirmed_rate"] is None and ana["satisfaction_confirmed_denominator"] is None
    quarantine = pl.from_arrow(DeltaTable(str(tmp_path / "warehouse" / "quarantine")).to_pyarrow_table())
    assert isinstance(quarantine, pl.DataFrame)
    assert quarantine["reason"].value_counts().sort("reason").rows() == [("unmappable_vendor_record", 4)]


def test_a_wrong_vendor_mapping_is_exit_3_before_any_flow_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[connect]\noutcome_map = { "fixed" = "sorted" }\n')
    monkeypatch.setenv("AUDIT_LANDING_VENDOR", "zendesk+connect")
    monkeypatch.setenv("AUDIT_VENDOR_MAPPING_PATH", str(mapping))
    monkeypatch.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    result = CliRunner().invoke(app, ["run", f"--landing={tmp_path}", f"--warehouse={tmp_path / 'wh'}"])
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        f"error: {mapping}: connect.outcome_map: Value error, not call outcomes: sorted (choose from"
        " resolved, unresolved, escalated, callback_promised, abandoned)"
    )
    assert not (tmp_path / "wh").exists()
