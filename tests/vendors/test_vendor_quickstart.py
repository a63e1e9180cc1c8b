"""`audit quickstart --vendor zendesk+connect` on a small sample: the generated Zendesk + Connect
landing read through the adapters by real flow runs, every export row accepted, and the line to
run the audit again with the generated settings."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from configs.vendors import load_mapping
from devtools.quickstart import run_quickstart
from tests.flows.flow_fixtures import EXPORTS, PSEUDONYM_KEY


@pytest.mark.integration
@pytest.mark.xdist_group("prefect")
def test_the_vendor_quickstart_audits_the_vendor_exports(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    root = tmp_path / "qs"
    # Bad rows are turned off; one backfilled day (the contract quickstart's test runs the week).
    text = run_quickstart(root=root, sample=EXPORTS, vendor="zendesk+connect", backfill_days=1)
    folder = root / "vendor"
    assert "audit day            2026-03-13 (validation passed)" in text
    assert "backfilled           2026-03-12 .. 2026-03-12" in text
    read = {
        line.split()[0]: line.split()[1:]
        for line in text.splitlines()
        if line.startswith(("  ticket", "  calls"))
    }
    assert list(read) == ["tickets", "ticket_events", "calls"]
    for files, rows, accepted, quarantined, duplicate in read.values():
        assert int(files) > 0 and rows == accepted and (quarantined, duplicate) == ("0", "0")
    assert f"--config {folder / 'settings.toml'}" in text
    assert 'landing_vendor = "zendesk+connect"' in (folder / "settings.toml").read_text()
    mapping = load_mapping(folder / "mapping.toml")
    scorecard = pl.read_delta(str(folder / "warehouse" / "agent_scorecard"))
    # Agents are their Zendesk user ids, the same in Connect through the mapping.
    assert set(scorecard["agent_id"].drop_nulls()) == set(mapping.connect.agent_ids.values())
    # The scheduled run audits the mature day and the refresh of the day its windows just closed.
    days = ["2026-03-09", "2026-03-12", "2026-03-13"]
    assert sorted(scorecard["audit_date"].unique().cast(pl.String)) == days
    assert not (root / "landing").exists()  # the contract quickstart's folders are left alone
