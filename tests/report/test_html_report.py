"""The HTML report shows the published numbers, marks low volume, and never shows raw ids."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from offline_pages import hyperlinks, remote_assets
from report_fixtures import (
    PLANTED_RAW_ID,
    PLANTED_TEXT,
    POLICY_VERSION,
    RUN_ID,
    D,
    flag_rows,
    frame,
    manifest_rows,
    parse_page,
    scorecard_row,
    write_table,
)

from report import build_report, publish_report, report_key
from report.render import report_link

DOCS = "https://reports.example.com/data_docs/index.html"


@pytest.fixture(scope="module")
def html(shared_warehouse: Path) -> str:
    return build_report(str(shared_warehouse), D, data_docs_url=DOCS)


def pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def test_agent_rates_equal_the_published_scorecard(shared_warehouse: Path, html: str) -> None:
    page = parse_page(html)
    published = pl.read_delta(str(shared_warehouse / "agent_scorecard"))
    metrics = [c.removesuffix("_rate") for c in published.columns if c.endswith("_rate")]
    checked = 0
    for row in published.to_dicts():
        for metric in metrics:
            cell = page.rate_cell("scorecard-table", {"data-agent": row["agent_id"]}, metric)
            assert cell.attrs["data-numerator"] == str(row[f"{metric}_numerator"])
            assert cell.attrs["data-denominator"] == str(row[f"{metric}_denominator"])
            assert cell.attrs["data-low-volume"] == str(row[f"is_{metric}_low_volume"]).lower()
            if row[f"{metric}_rate"] is None:
                assert "–" in cell.text
            else:
                assert float(cell.attrs["data-value"]) == row[f"{metric}_rate"]
                assert pct(row[f"{metric}_rate"]) in cell.text
                assert f"[{pct(row[f'{metric}_ci_low'])} – {pct(row[f'{metric}_ci_high'])}]" in cell.text
            checked += 1
    assert checked == 3 * 9


def test_team_rates_equal_the_published_team_scorecard(shared_warehouse: Path, html: str) -> None:
    page = parse_page(html)
    teams = pl.read_delta(str(shared_warehouse / "team_scorecard")).filter(pl.col("audit_date") == D)
    assert teams.height == 2
    for row in teams.to_dicts():
        for metric in ("follow_up", "missed_escalation", "first_contact_resolution", "reopen"):
            cell = page.rate_cell("headline-table", {"data-team": row["team_id"]}, metric)
            assert cell.attrs["data-numerator"] == str(row[f"{metric}_numerator"])
            assert cell.attrs["data-denominator"] == str(row[f"{metric}_denominator"])
            assert float(cell.attrs["data-value"]) == row[f"{metric}_rate"]


def test_hand_worked_values_appear_as_expected(html: str) -> None:
    page = parse_page(html)
    # a1 followed up 15 of 20: 75.0%, Wilson [53.1%, 88.8%], enough volume.
    a1 = page.rate_cell("scorecard-table", {"data-agent": "a1"}, "follow_up")
    assert " ".join(a1.text.split()) == "75.0% 15/20 [53.1% – 88.8%]"
    assert "low-volume" not in a1.attrs["class"]
    # Team t1 is a1 + a2: 17/25; all teams add t2's 0/8: 17/33.
    t1 = page.rate_cell("headline-table", {"data-team": "t1"}, "follow_up")
    assert (t1.attrs["data-numerator"], t1.attrs["data-denominator"]) == ("17", "25")
    total = page.rate_cell("headline-table", {"data-team": "All teams"}, "follow_up")
    assert (total.attrs["data-numerator"], total.attrs["data-denominator"]) == ("17", "33")
    assert total.text.split()[0] == "51.5%"
    assert page.column("headline-table", "contacts") == ["55", "12", "67"]


@pytest.mark.parametrize(
    ("agent", "metric", "low_volume"), [("a3", "follow_up", True), ("a1", "follow_up", False)]
)
def test_low_volume_rates_are_visibly_marked(html: str, agent: str, metric: str, low_volume: bool) -> None:
    cell = parse_page(html).rate_cell("scorecard-table", {"data-agent": agent}, metric)
    assert ("low-volume" in cell.attrs["class"]) is low_volume
    assert ("low volume" in cell.text) is low_volume
    assert ("too few to judge" in cell.attrs.get("title", "")) is low_volume


def test_evidence_lists(html: str) -> None:
    page = parse_page(html)
    assert page.column("missed-follow-ups", "contact_id") == ["T-101", "C-201", "T-301"]
    assert page.column("missed-follow-ups", "customer_key") == ["ck_aaa2", "ck_bbb1", "ck_bbb2"]
    assert page.column("escalations-to-review", "contact_id") == ["T-120", "C-210", "T-311"]
    assert page.column("escalations-to-review", "escalation_class") == ["late", "missed", "missed"]
    assert page.column("escalation-classes", "missed") == ["0", "0", "2"]
    assert page.column("policy-violations", "concession_id") == ["C-503", "E-501"]
    assert page.column("policy-violations", "violations") == ["missing_approval", "over_cap"]


def test_concession_flags_show_statistic_threshold_p_q_and_evidence(html: str) -> None:
    page = parse_page(html)
    assert page.column("concession-flags", "flag_type") == ["high_concession_rate", "repeat_beneficiary"]
    assert page.column("concession-flags", "subject_id") == ["a2", "ck_ccc1"]
    assert page.column("concession-flags", "statistic") == ["3.9", "3"]
    assert page.column("concession-flags", "threshold") == ["1.5", "3"]
    assert page.column("concession-flags", "p_value") == ["4.81e-05", "–"]
    assert page.column("concession-flags", "q_value") == ["0.000144", "–"]
    assert page.column("concession-flags", "evidence_ids") == ["E-501, E-502", "E-501, E-502, C-503"]


def test_trend_sums_team_numerators_per_day(html: str) -> None:
    page = parse_page(html)
    before = page.rate_cell("trend-table", {"data-day": (D - timedelta(days=1)).isoformat()}, "follow_up")
    # Averaging t1's 50% and t2's 90% would give 70.0%; summing gives 10/12.
    assert (before.attrs["data-numerator"], before.attrs["data-denominator"]) == ("10", "12")
    assert before.text.split()[0] == "83.3%"
    assert "70.0%" not in before.text
    day = page.rate_cell("trend-table", {"data-day": D.isoformat()}, "follow_up")
    assert (day.attrs["data-numerator"], day.attrs["data-denominator"]) == ("17", "33")
    # D-30 is outside the 28-day window.
    days = [e.attrs["data-day"] for e in page.find("tr") if "data-day" in e.attrs]
    assert days == [(D - timedelta(days=1)).isoformat(), D.isoformat()]


def test_no_raw_customer_ids_or_free_text(html: str) -> None:
    assert PLANTED_RAW_ID not in html
    assert PLANTED_TEXT not in html
    assert "customer_id" not in html


def test_page_is_self_contained(html: str) -> None:
    """No asset from the network (tests/offline_pages.py, shared with the Data Docs tests). The
    one http(s) URL allowed is the Data Docs hyperlink, when the caller gives a web URL: it is
    followed only when clicked."""
    page = parse_page(html)
    csp = page.find("meta", http_equiv="Content-Security-Policy")
    assert csp and "default-src 'none'" in csp[0].attrs["content"]
    # Follow-up, escalation classes, missed escalation, first-contact resolution, reopen, trend.
    assert len(page.find("svg")) == 6
    assert remote_assets(html) == []
    urls = [e.attrs[a] for e in page.elements for a in ("src", "href") if a in e.attrs]
    assert urls == [DOCS] and hyperlinks(html) == [DOCS]
    assert not re.search(r"url\(|@import|<link|<iframe|<img", html)


def test_footer_names_run_policy_validation_and_data_docs(html: str) -> None:
    page = parse_page(html)
    assert page.find("dd", id="run-id")[0].text == RUN_ID
    assert page.find("dd", id="policy-version")[0].text == POLICY_VERSION
    assert page.find("dd", id="validation")[0].text == "passed"
    assert page.find("a", id="data-docs")[0].attrs["href"] == DOCS


def test_report_is_reproducible(shared_warehouse: Path, html: str) -> None:
    assert build_report(str(shared_warehouse), D, data_docs_url=DOCS) == html


def test_a_missing_optional_metric_is_left_out(warehouse: Path) -> None:
    table = warehouse / "agent_scorecard"
    published = pl.read_delta(str(table))
    shutil.rmtree(table)
    write_table(warehouse, "agent_scorecard", published.select(pl.exclude("^satisfaction_confirmed_.*$")))
    page = parse_page(build_report(str(warehouse), D, data_docs_url=None))
    assert not page.find("td", data_metric="satisfaction_confirmed")
    assert page.rate_cell("scorecard-table", {"data-agent": "a1"}, "reopen").attrs["data-numerator"] == "1"
    assert not page.find("a", id="data-docs")


def test_a_day_without_audit_tables_still_reports_the_failed_validation(tmp_path: Path) -> None:
    # Validation failed: nothing published for the day except the manifest.
    root = tmp_path / "warehouse"
    failed = [row | {"validation_success": False} for row in manifest_rows()]
    write_table(root, "run_manifest", frame(failed))
    page = parse_page(build_report(str(root), D, data_docs_url=DOCS))
    assert page.find("div", id="no-tables")
    assert page.find("dd", id="validation")[0].text == "failed"
    assert not page.find("svg")


def test_publish_report_writes_under_the_reports_uri(tmp_path: Path, html: str) -> None:
    reports = tmp_path / "reports"
    location = publish_report(html, str(reports), D)
    assert report_key(D) == "audit_report/audit_date=2026-11-20/index.html"
    path = reports / "audit_report" / "audit_date=2026-11-20" / "index.html"
    assert location == str(path)
    assert path.read_text(encoding="utf-8") == html


@pytest.mark.parametrize(
    ("target", "reports_uri", "link"),
    [
        (DOCS, None, DOCS),
        (DOCS, "s3://bucket/reports", DOCS),
        (
            "s3://bucket/reports/data_docs/audit_date=2026-11-20/run_id=r1/index.html",
            "s3://bucket/reports",
            "../../data_docs/audit_date=2026-11-20/run_id=r1/index.html",
        ),
        (
            "/srv/reports/data_docs/audit_date=2026-11-20/run_id=r1/index.html",
            None,
            "../../data_docs/audit_date=2026-11-20/run_id=r1/index.html",
        ),
        ("/srv/elsewhere/docs/index.html", "/srv/reports", "file:///srv/elsewhere/docs/index.html"),
        (None, "/srv/reports", None),
    ],
)
def test_data_docs_link_is_relative_beside_the_report(
    target: str | None, reports_uri: str | None, link: str | None
) -> None:
    assert report_link(target, reports_uri) == link


@pytest.mark.parametrize(
    ("target", "link"),
    [
        ("/srv/reports/data_docs/x/index.html", "file:///srv/reports/data_docs/x/index.html"),
        ("s3://bucket/reports/data_docs/x/index.html", "s3://bucket/reports/data_docs/x/index.html"),
        (DOCS, DOCS),
    ],
)
def test_a_report_saved_elsewhere_keeps_absolute_links(target: str, link: str) -> None:
    assert report_link(target, "/srv/reports", relative=False) == link


def test_data_docs_link_falls_back_to_the_manifest(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    reports = tmp_path / "reports"
    docs = reports / "data_docs" / "audit_date=2026-11-20" / f"run_id={RUN_ID}" / "index.html"
    rows = [row | {"data_docs_uri": str(docs)} for row in manifest_rows()]
    write_table(root, "run_manifest", frame(rows))
    page = parse_page(build_report(str(root), D, reports_uri=str(reports)))
    link = page.find("a", id="data-docs")[0].attrs["href"]
    assert link == f"../../data_docs/audit_date=2026-11-20/run_id={RUN_ID}/index.html"
    published = Path(publish_report("<html></html>", str(reports), D))
    assert (published.parent / link).resolve() == docs.resolve()


def test_other_published_measures_are_listed_per_agent(html: str) -> None:
    page = parse_page(html)
    assert page.column("measures-table", "first_reply_minutes_median") == ["12.5", "12.5", "12.5"]
    # Rates, volumes and the counts shown in the scorecard are not repeated here.
    assert not page.column("measures-table", "follow_up_numerator")
    assert not page.column("measures-table", "contacts")


def test_long_evidence_lists_are_folded_but_complete(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    ids = [f"T-{i:04d}" for i in range(12)]
    flag = flag_rows()[0] | {"evidence_ids": ids}
    write_table(root, "concession_flags", frame([flag]))
    page = parse_page(build_report(str(root), D))
    for table in ("concession-flags", "attention-table"):  # the flag, and the flag to review first
        (cell,) = [e for e in page.find("td", data_col="evidence_ids") if e.inside("table", id=table)]
        (summary,) = [e for e in page.find("summary") if e.inside("table", id=table)]
        assert summary.text == "12 ids: T-0000, T-0001, T-0002, T-0003, T-0004, …"
        assert cell.text.strip().endswith(", ".join(ids))


def test_a_large_centre_is_charted_by_team_and_listed_by_agent(warehouse: Path) -> None:
    """Past CHART_AGENTS agents, a chart of each agent is unreadable and takes seconds to draw:
    the charts show teams (pooled rates), the scorecard table still lists every agent."""
    from report.render import CHART_AGENTS

    table = warehouse / "agent_scorecard"
    published = pl.read_delta(str(table))
    shutil.rmtree(table)
    many = [
        scorecard_row(D, f"team-{i % 3}", f"agent-{i:03d}", follow_up=(i % 4, 4))
        for i in range(CHART_AGENTS + 1)
    ]
    extra = [c for c in published.columns if c not in many[0]]  # volumes and counts: 0
    rows = frame(many).with_columns(pl.lit(0, pl.Int64).alias(c) for c in extra)
    write_table(warehouse, "agent_scorecard", rows.select(published.columns).cast(published.schema))
    html = build_report(str(warehouse), D, data_docs_url=None)
    page = parse_page(html)
    assert "Follow-up rate by team" in html and "Escalation classes by team" in html
    last = page.rate_cell("scorecard-table", {"data-agent": f"agent-{CHART_AGENTS:03d}"}, "follow_up")
    assert (last.attrs["data-numerator"], last.attrs["data-denominator"]) == (str(CHART_AGENTS % 4), "4")


def test_queues_show_abandonment_with_its_interval_and_the_waits(html: str) -> None:
    """queue_scorecard, most abandoned legs first: billing/t1 2 of 10 (Wilson 5.7%-51.0%), then
    the legs with no queue or team."""
    page = parse_page(html)
    assert page.column("queue-table", "abandonment_denominator") == ["10", "1"]
    assert page.column("queue-table", "abandonment_numerator") == ["2", "0"]
    rates = page.column("queue-table", "abandonment_rate")
    assert rates[0].startswith("20.0% [5.7%–51.0%]") and "low volume" in rates[0]
    assert page.column("queue-table", "queue_wait_seconds_median") == ["30", "12"]
    assert page.column("queue-table", "queue_wait_seconds_p90") == ["85", "12"]


def test_an_agent_table_leaves_out_what_is_measured_per_team_only(warehouse: Path) -> None:
    """Abandonment and queue wait are team measures (0/0 and null on every agent row): the agent
    tables do not show them as empty columns; the team rows keep them."""
    table = warehouse / "agent_scorecard"
    published = pl.read_delta(str(table))
    shutil.rmtree(table)
    team_only = published.with_columns(
        pl.lit(0, pl.Int64).alias("abandonment_numerator"),
        pl.lit(0, pl.Int64).alias("abandonment_denominator"),
        pl.lit(None, pl.Float64).alias("abandonment_rate"),
        pl.lit(None, pl.Float64).alias("abandonment_ci_low"),
        pl.lit(None, pl.Float64).alias("abandonment_ci_high"),
        pl.lit(True).alias("is_abandonment_low_volume"),
        pl.lit(None, pl.Float64).alias("queue_wait_seconds_median"),
        pl.lit(12.5, pl.Float64).alias("hold_seconds_median"),
    )
    write_table(warehouse, "agent_scorecard", team_only)
    page = parse_page(build_report(str(warehouse), D, data_docs_url=None))
    assert not page.find("td", data_metric="abandonment")
    assert page.rate_cell("scorecard-table", {"data-agent": "a1"}, "reopen").attrs["data-numerator"] == "1"
    assert page.column("measures-table", "hold_seconds_median")[0] == "12.5"
    assert not page.column("measures-table", "queue_wait_seconds_median")
