"""The report over S3: tables read from an s3:// warehouse, the page written to an s3:// reports
prefix, all on the local moto server over HTTP (no in-process mocking)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from report_fixtures import PLANTED_RAW_ID, D, build_warehouse, parse_page
from typer.testing import CliRunner

from report import build_report, publish_report
from warehouse.delta import storage_options as delta_storage_options

pytestmark = pytest.mark.integration


def test_build_and_publish_through_s3(s3_bucket: Any) -> None:
    warehouse = s3_bucket.uri("warehouse")
    options = delta_storage_options(warehouse, s3_bucket.settings) or {}
    build_warehouse(warehouse, options | {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"})
    reports = s3_bucket.uri("reports")
    docs = f"{reports}/data_docs/audit_date={D.isoformat()}/run_id=r1/index.html"

    html = build_report(warehouse, D, s3=s3_bucket.settings, data_docs_url=docs, reports_uri=reports)
    location = publish_report(html, reports, D, s3_bucket.settings)

    assert location == f"{reports}/audit_report/audit_date=2026-11-20/index.html"
    stored = s3_bucket.storage("reports").read_bytes("audit_report/audit_date=2026-11-20/index.html")
    assert stored.decode("utf-8") == html
    head = s3_bucket.storage("reports").client.head_object(
        Bucket=s3_bucket.name, Key="reports/audit_report/audit_date=2026-11-20/index.html"
    )
    assert head["ContentType"] == "text/html; charset=utf-8"
    page = parse_page(html)
    cell = page.rate_cell("scorecard-table", {"data-agent": "a1"}, "follow_up")
    assert (cell.attrs["data-numerator"], cell.attrs["data-denominator"]) == ("15", "20")
    assert page.find("a", id="data-docs")[0].attrs["href"] == (
        "../../data_docs/audit_date=2026-11-20/run_id=r1/index.html"
    )
    assert PLANTED_RAW_ID not in html


def test_terminal_view_reads_an_s3_warehouse(s3_bucket: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from report.cli import report

    warehouse = s3_bucket.uri("warehouse")
    options = delta_storage_options(warehouse, s3_bucket.settings) or {}
    build_warehouse(warehouse, options | {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"})
    monkeypatch.setenv("AUDIT_S3__ENDPOINT_URL", s3_bucket.endpoint_url)
    app = typer.Typer()
    app.command("report")(report)
    app.callback()(lambda: None)
    result = CliRunner().invoke(
        app, ["report", "--date", D.isoformat(), "--warehouse", warehouse, "--agent", "a3", "-f", "csv"]
    )
    assert result.exit_code == 0, result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert (row["agent_id"], row["team_id"]) == ("a3", "t2")
    assert (row["follow_up_numerator"], row["follow_up_denominator"]) == ("0", "8")
