"""`audit generate --vendor zendesk+connect`: the centre as Zendesk + Amazon Connect exports, laid
out as docs/vendors.md says, with its mapping file. That the adapters read it back as the contract
rows is tests/golden/test_golden_vendor.py."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from configs.vendors import load_mapping
from devtools.sample_data import GeneratorConfig
from devtools.sample_data.vendors import MAPPING_KEY, generate_vendor_exports, vendor_id
from flows.cli import app

runner = CliRunner()
SMALL = ["--days", "3", "--end-date", "2026-11-22", "--agents", "8"]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_vendor_ids_keep_the_kind_and_order_of_contract_ids() -> None:
    contract = [
        "C-00000007",
        "C-00000012",
        "E-0000000003",
        "T-00000009",
        "agent-0002",
        "cust-0000001",
        "sup-01",
    ]
    vendor = [vendor_id(i) for i in contract]
    assert vendor == [
        "00000000-0000-4000-8000-000000000007",
        "00000000-0000-4000-8000-000000000012",
        "10000000003",
        "100000009",
        "10002",
        "20000001",
        "301",
    ]
    assert sorted(vendor) == vendor  # ties broken on the smaller id stay with the same row
    assert vendor_id("team-01") == "401"
    assert [vendor_id(t) for t in ("billing", "billing-line", "T-", "agent-7x")] == [
        "billing",
        "billing-line",
        "T-",
        "agent-7x",
    ]


def test_generate_vendor_writes_the_vendors_layout_and_its_mapping(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["generate", "--landing", str(tmp_path), "--vendor", "zendesk+connect", *SMALL]
    )
    assert result.exit_code == 0, result.output
    keys = list(_files(tmp_path))
    assert [k for k in keys if k.startswith("zendesk/tickets/")] == [
        f"zendesk/tickets/2026/11/{d}/page-0001.json" for d in (20, 21, 22)
    ]
    assert any(k.startswith("zendesk/ticket_events/2026/11/22/page-0001.json") for k in keys)
    assert any(k.startswith("zendesk/users/2026/11/20/") for k in keys)
    assert any(k.startswith("connect/ctr/2026/11/21/") for k in keys)
    assert any(k.startswith("connect/Analysis/Voice/Redacted/2026/11/") for k in keys)
    assert not any(k.startswith(("tickets/", "ticket_events/", "calls/")) for k in keys)
    mapping = load_mapping(tmp_path / MAPPING_KEY)
    assert mapping.connect.agent_ids["agent-0003@support.example"] == "10003"
    plants = json.loads((tmp_path / "_generator" / "plants.json").read_text())
    assert plants["generator"]["vendor"] == "zendesk+connect"
    assert plants["generator"]["bad_row_share"] == 0.0
    assert plants["no_follow_up_agent"].startswith("1") and plants["no_follow_up_agent"] in result.output
    assert f"Vendor mapping: {tmp_path}/{MAPPING_KEY}" in result.output


def test_vendor_exports_have_no_bad_rows(tmp_path: Path) -> None:
    args = ["generate", "--landing", str(tmp_path), "--vendor", "zendesk+connect", "--bad-row-share", "0.02"]
    result = runner.invoke(app, [*args, *SMALL])
    assert result.exit_code == 2
    assert "no bad rows" in result.output
    assert not any(tmp_path.iterdir())


def test_an_unknown_vendor_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--landing", str(tmp_path), "--vendor", "freshdesk", *SMALL])
    assert result.exit_code == 2
    assert "zendesk+connect" in result.output
    assert not any(tmp_path.iterdir())


def test_same_seed_and_options_give_identical_vendor_bytes(tmp_path: Path) -> None:
    config = GeneratorConfig(end_date=date(2026, 11, 22), days=3, agents=8, seed=5, bad_row_share=0.0)
    generate_vendor_exports(str(tmp_path / "a"), config)
    generate_vendor_exports(str(tmp_path / "b"), config)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(first) > 50
    assert first == second
