"""Data Docs pages: severity on every expectation and suite, counts from the results, links
that resolve, and nothing loaded from the network."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
import sample_frames as s
from offline_pages import hyperlinks, remote_assets

from expectations._suite import SuiteParams
from expectations.data_docs_pages import render_runs_index
from expectations.gate import ValidationReport, run_validation
from warehouse.data_docs import publish_data_docs

# Both tables expect 100 rows a day: the sample frames' 3-4 rows fail each one's volume warning.
VOLUME_WARNINGS = SuiteParams(typical_rows={"tickets": 100, "ticket_events": 100})


def bad_status(tickets: pl.DataFrame) -> pl.DataFrame:
    """T2's status outside the contract's set: one critical failure."""
    return tickets.with_columns(
        status=pl.when(pl.col("ticket_id") == "T2").then(pl.lit("x")).otherwise("status")
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> ValidationReport:
    """tickets: one failed critical and one failed warning; ticket_events: one failed warning."""
    frames = {"tickets": bad_status(s.tickets()), "ticket_events": s.ticket_events()}
    docs = tmp_path_factory.mktemp("docs")
    return run_validation(frames, run_id=s.RUN, audit_date=s.DAY, docs_dir=docs, params=VOLUME_WARNINGS)


def read(report: ValidationReport, page: str) -> str:
    return (report.docs_dir / page).read_text(encoding="utf-8")


def row(html: str, **attrs: str) -> str:
    """The one table row whose data- attributes have these values."""
    wanted = "".join(rf'(?=[^>]*data-{k}="{re.escape(v)}")' for k, v in attrs.items())
    found = re.findall(rf"<tr\b{wanted}[^>]*>.*?</tr>", html, flags=re.DOTALL)
    assert len(found) == 1, (attrs, found)
    return found[0]


def cell(row_html: str, column: str) -> str:
    return re.search(rf'data-col="{column}">([^<]*)<', row_html).group(1)  # type: ignore[union-attr]


def test_a_critical_and_a_warning_failure_read_failed_critical_with_counts(run: ValidationReport) -> None:
    page = read(run, "validations/tickets.html")
    assert 'id="outcome" data-outcome="failed (critical)"' in page
    counts = re.search(r'<dd id="counts"([^>]*)>', page).group(1)  # type: ignore[union-attr]
    expected = {"evaluated": 16, "passed": 14, "failed-critical": 1, "failed-warning": 1}
    assert {k: int(re.search(rf'data-{k}="(\d+)"', counts).group(1)) for k in expected} == expected  # type: ignore[union-attr]
    critical = row(page, expectation="expect_column_values_to_be_in_set", column="status")
    assert 'data-severity="critical"' in critical and 'data-outcome="failed (critical)"' in critical
    assert "1 of 3 rows unexpected (33.3%)" in critical and "<li>ticket_id=T2</li>" in critical
    warning = row(page, expectation="expect_table_row_count_to_be_between")
    assert 'data-severity="warning"' in warning and 'data-outcome="failed (warning)"' in warning
    assert "min_value=50" in warning and "<td>3</td>" in warning  # the rule and the rows seen


def test_every_expectation_shows_its_severity(run: ValidationReport) -> None:
    page = read(run, "validations/tickets.html")
    rows = re.findall(r'<tr [^>]*data-severity="([a-z]*)"[^>]*data-outcome="([^"]*)"', page)
    assert len(rows) == 16
    assert {severity for severity, _ in rows} == {"critical", "warning"}
    assert [o for _, o in rows][:2] == ["failed (critical)", "failed (warning)"]  # failures first
    assert all(o == "passed" for _, o in rows[2:])


def test_a_warning_only_failure_reads_passed_with_warnings(run: ValidationReport) -> None:
    page = read(run, "validations/ticket_events.html")
    assert 'id="outcome" data-outcome="passed with warnings"' in page
    assert not re.search(r">\s*Failed\s*<", page, flags=re.IGNORECASE)  # no bare "Failed" anywhere
    suite = row(read(run, "index.html"), suite="ticket_events")
    assert 'data-outcome="passed with warnings"' in suite and "failed" not in suite.lower().replace(
        'data-col="failed-', ""
    )
    assert (cell(suite, "failed-critical"), cell(suite, "failed-warning")) == ("0", "1")


def test_the_run_index_shows_each_suite_and_the_run(run: ValidationReport) -> None:
    index = read(run, "index.html")
    assert 'id="run-outcome" data-outcome="failed (critical)"' in index
    tickets = row(index, suite="tickets", outcome="failed (critical)")
    assert [
        cell(tickets, c) for c in ("rows", "evaluated", "successful", "failed-critical", "failed-warning")
    ] == [
        "3",
        "16",
        "14",
        "1",
        "1",
    ]
    assert 'href="validations/tickets.html"' in tickets


def test_summary_records_each_page_and_the_results_beside_it(run: ValidationReport) -> None:
    summary = json.loads(read(run, "summary.json"))
    assert summary["pages"] == {
        "ticket_events": "validations/ticket_events.html",
        "tickets": "validations/tickets.html",
    }
    assert all((run.docs_dir / page).is_file() for page in summary["pages"].values())
    assert (run.docs_dir / "results" / "tickets.json").is_file()


def test_no_gx_site_is_written(run: ValidationReport) -> None:
    """GX's site (static/, expectations/, CDN-loaded pages) is not built: only our pages."""
    files = sorted(p.relative_to(run.docs_dir).as_posix() for p in run.docs_dir.rglob("*") if p.is_file())
    assert files == [
        "index.html",
        "results/ticket_events.json",
        "results/tickets.json",
        "summary.json",
        "validations/ticket_events.html",
        "validations/tickets.html",
    ]


def test_pages_of_a_run_load_nothing_and_link_only_inside_the_run(run: ValidationReport) -> None:
    """No remote asset, and no hyperlink out either: every link is relative and resolves."""
    pages = sorted(run.docs_dir.rglob("*.html"))
    assert len(pages) == 3
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert remote_assets(html) == [], page
        assert "http://" not in html and "https://" not in html, page
        assert "<script" not in html and "<link" not in html
        for link in hyperlinks(html):
            assert (page.parent / link).resolve().is_file(), (page, link)


def test_runs_index_links_resolve_to_each_runs_pages(run: ValidationReport, tmp_path: Path) -> None:
    """Published like the pipeline does: the runs index links each run and its suites' pages."""
    reports = tmp_path / "reports"
    publish_data_docs(run.docs_dir, reports_uri=str(reports), audit_date=s.DAY, run_id=s.RUN)
    index = (reports / "data_docs" / "index.html").read_text(encoding="utf-8")
    links = hyperlinks(index)
    assert links == [
        f"audit_date={s.DAY}/run_id={s.RUN}/index.html",
        f"audit_date={s.DAY}/run_id={s.RUN}/validations/ticket_events.html",
        f"audit_date={s.DAY}/run_id={s.RUN}/validations/tickets.html",
    ]
    assert all((reports / "data_docs" / link).is_file() for link in links)
    assert remote_assets(index) == [] and "https://" not in index
    line = row(index, run=s.RUN)
    assert 'data-outcome="failed (critical)"' in line
    assert '<span data-suite="tickets" data-outcome="failed (critical)">' in line
    assert '<span data-suite="ticket_events" data-outcome="passed with warnings">' in line


def summary(run_id: str, day: str, *suites: tuple[str, bool, bool], **extra: object) -> dict:
    failed = [
        {"suite": n, "severity": "warning" if ok else "critical"} for n, success, ok in suites if not success
    ]
    return {
        "run_id": run_id,
        "audit_date": day,
        "validated_at": day,
        "critical_passed": all(ok for _, _, ok in suites),
        "suites": [{"suite": n, "success": success, "critical_passed": ok} for n, success, ok in suites],
        "failures": failed,
        **extra,
    }


def test_runs_index_says_passed_with_warnings_and_lists_newest_first_escaped() -> None:
    summaries = [
        summary("a", "2026-11-19", ("tickets", True, True)),
        summary("<b>", "2026-11-21", ("calls", False, True), ("tickets", False, False)),
        summary("c", "2026-11-20", ("ticket_events", False, True), pages={"ticket_events": "v/te.html"}),
    ]
    html = render_runs_index(summaries, ["x/a/index.html", "x/b/index.html", "x/c/index.html"])
    assert re.findall(r'<tr [^>]*data-run="([^"]*)" data-outcome="([^"]*)"', html) == [
        ("&lt;b&gt;", "failed (critical)"),
        ("c", "passed with warnings"),
        ("a", "passed"),
    ]
    assert "<b>" not in html
    assert '<a href="x/c/v/te.html">ticket_events</a>: passed with warnings' in html
    # A run from before these pages (GX's site, no `pages`) lists its suites without a link.
    assert (
        '<span data-suite="tickets" data-outcome="failed (critical)">tickets: failed (critical)</span>'
        in html
    )
    assert "FAILED" not in html and not re.search(r">\s*Failed\s*<", html)


def test_runs_index_without_runs() -> None:
    assert "no runs yet" in render_runs_index([], [])


def test_the_asset_check_finds_every_kind_of_reference() -> None:
    """A canary for remote_assets: each way a page can load something is caught; a link is not."""
    page = (
        '<link rel="stylesheet" href="https://cdn.example/b.css"><script src="//cdn.example/j.js"></script>'
        '<style>@import "http://cdn.example/f.css"; body { background: url(https://cdn.example/bg.png) }'
        " .ok { background: url(data:image/png;base64,AA) }</style>"
        '<img srcset="https://cdn.example/a.png 1x, local.png 2x"><div style="background:url(\'http://x/y.png\')">'
        '<a href="https://docs.example/page">docs</a><img src="local.png">'
    )
    assert remote_assets(page) == [
        "https://cdn.example/b.css",
        "//cdn.example/j.js",
        "http://cdn.example/f.css",
        "https://cdn.example/bg.png",
        "https://cdn.example/a.png",
        "http://x/y.png",
    ]
