"""A flow run checks what no retry fixes before any work, as the CLI does: a deployment run
under a worker (no CLI in front of it) fails in seconds, with nothing ingested."""

from __future__ import annotations

from pathlib import Path

import pytest

import flows.daily as daily
from configs.settings import load_settings
from flows.preflight import WRITE_CHECK, StoreNotWritable, check_writable
from warehouse.secrets import PSEUDONYM_KEY_ENV

EXPORT = "tickets/export_date=2026-03-02/part-0.csv"
CSV = (
    b"ticket_id,customer_id,created_at,updated_at,status,channel,category\n"
    b"T1,C1,2026-03-02T09:00:00Z,2026-03-02T10:00:00Z,open,email,billing\n"
)


def places(tmp_path: Path) -> dict[str, str]:
    landing = tmp_path / "landing"
    (landing / EXPORT).parent.mkdir(parents=True)
    (landing / EXPORT).write_bytes(CSV)
    return {
        "landing": str(landing),
        "warehouse": str(tmp_path / "warehouse"),
        "reports": str(tmp_path / "reports"),
    }


@pytest.mark.xdist_group("prefect")
@pytest.mark.parametrize("flow_name", ["daily_audit", "ingest_flow"])
def test_a_flow_without_the_pseudonym_key_stops_before_the_ingest(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flow_name: str
) -> None:
    """Before, a deployment run with no key ingested every new export and failed at publish."""
    monkeypatch.delenv(PSEUDONYM_KEY_ENV, raising=False)
    where = places(tmp_path)
    state = getattr(daily, flow_name)(**where, return_state=True)
    assert state.is_failed()
    assert "no pseudonym key" in (state.message or "")
    assert not (tmp_path / "warehouse" / "_canonical" / "tickets").exists()  # nothing ingested


@pytest.mark.xdist_group("prefect")
def test_a_backfill_into_a_store_it_cannot_write_stops_at_once(
    prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "preflight-test-key-0123456789")
    where = places(tmp_path)
    (tmp_path / "warehouse").write_text("a file where the warehouse folder should be")
    state = daily.backfill(start="2026-03-02", end="2026-03-02", **where, return_state=True)
    assert state.is_failed()
    assert f"cannot write to {tmp_path / 'warehouse'}" in (state.message or "")


def test_the_write_check_names_the_store_that_refused(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.write_text("not a folder")
    settings = load_settings(
        landing_uri=str(tmp_path / "landing"), warehouse_uri=str(tmp_path / "wh"), reports_uri=str(reports)
    )
    with pytest.raises(StoreNotWritable, match=f"cannot write to {reports}"):
        check_writable(settings)
    assert (tmp_path / "wh" / "_locks" / WRITE_CHECK).exists()  # the stores before it were written
