"""Report v2: the attention list, the funnel plots, the period pages and the agent pages, on the
small published tables of report_fixtures (v2_warehouse), with values worked by hand."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from offline_pages import hyperlinks, remote_assets
from report_fixtures import (
    A2_EVIDENCE,
    MONTH_START,
    WEEK_START,
    D,
    build_warehouse,
    flag_rows,
    frame,
    lifecycle_rows,
    parse_page,
    peer_rows,
)

from report import attention, funnel
from report.build import build_report_pages, publish_report, report_key
from report.pages import agent_page_name

DOCS = "../../data_docs/index.html"


@pytest.fixture(scope="module")
def pages(v2_warehouse: Path) -> dict[str, str]:
    return build_report_pages(str(v2_warehouse), D, data_docs_url=DOCS)


def sections(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def attention_rows(html: str) -> list[tuple[str, str, str, str]]:
    """(source, status, subject, metric or flag) of each attention row, in page order."""
    page = parse_page(html)
    return [
        (e.attrs["data-source"], e.attrs["data-status"], e.attrs["data-subject"], e.attrs["data-metric"])
        for e in page.find("tr")
        if e.inside("table", id="attention-table") and "data-source" in e.attrs
    ]


# --- what needs attention -----------------------------------------------------------------------


def test_attention_is_the_first_section_of_every_period_page(pages: dict[str, str]) -> None:
    for name in ("index.html", "week.html", "month.html", "rolling.html", "agents/a2.html"):
        assert sections(pages[name])[0] == "attention", name
    assert sections(pages["index.html"])[:3] == ["attention", "funnels", "headline"]


def test_attention_lists_new_flags_before_ongoing_ones(pages: dict[str, str]) -> None:
    # new: a2's concession flag (q 1.44e-4), a3 above the centre (q 0.001), a3 above team t2 (0.004);
    # ongoing: a2 below peers (q 0.03), then the customer's repeat concessions (no q). a5's team flag
    # cleared today: counted, not listed.
    assert attention_rows(pages["index.html"]) == [
        ("concession", "new", "a2", "high_concession_rate"),
        ("peer", "new", "a3", "follow_up"),
        ("peer", "new", "a3", "follow_up"),
        ("peer", "ongoing", "a2", "follow_up"),
        ("concession", "ongoing", "ck_ccc1", "repeat_beneficiary"),
    ]
    assert "1 flag(s) cleared on this day" in pages["index.html"]


def test_a_peer_flag_shows_rate_against_peers_q_and_evidence(pages: dict[str, str]) -> None:
    page = parse_page(pages["index.html"])
    (row,) = [e for e in page.find("tr", data_source="peer", data_status="ongoing")]

    def cell(col: str) -> str:
        (td,) = [e for e in page.find("td", data_col=col) if row in e.parents]
        return " ".join(td.text.split())

    assert cell("observed") == "4.0% (2/50)"  # 2 of 50 followed up
    assert cell("expected") == "20.0%"
    assert cell("q_value") == "0.03"
    assert cell("team_id") == "t1" and cell("comparison") == "centre"
    assert cell("first_flagged_on") == (D.replace(day=18)).isoformat() and cell("consecutive_days") == "3"
    # 7 ids kept of 48 contacts: five shown, all seven in the details, the full count said.
    assert cell("evidence_ids").startswith("48 ids: T-700, T-701, T-702, T-703, T-704, …")
    assert ", ".join(A2_EVIDENCE) in cell("evidence_ids") and "48 contacts in all" in cell("evidence_ids")


def test_agents_outside_the_outer_limits_are_listed_flagged_or_not(pages: dict[str, str]) -> None:
    page = parse_page(pages["index.html"])
    rows = [
        (e.attrs["data-agent"], e.attrs["data-comparison"])
        for e in page.find("tr")
        if e.inside("table", id="outside-limits") and "data-agent" in e.attrs
    ]
    # a3: 0.5 > 0.2 + 3.09 * sqrt(0.16 / 60) = 0.360; a4: 0.265 > 0.2 + 3.09 * 0.02 = 0.262 (not flagged);
    # a3 within t2: 0.5 > 0.25 + 3.09 * sqrt(0.1875 / 60) = 0.423. a2's 0.04 > 0.2 - 3.09 * 0.0566 = 0.025.
    assert rows == [("a3", "centre"), ("a4", "centre"), ("a3", "team")]


def test_attention_without_the_lifecycle_columns_keeps_every_flag() -> None:
    """Tables written before the lifecycle existed: every flag listed, status unknown, by q."""
    lifecycle = ["status", "first_flagged_on", "consecutive_days"]
    peers = frame(peer_rows()).drop(lifecycle)
    flags = frame(flag_rows())
    listed = attention.attention_list(peers, flags, None)
    assert listed.get_column("status").is_null().all()
    assert listed.select("source", "subject_id", "q_value").rows() == [
        ("concession", "a2", 1.44e-4),
        ("peer", "a3", 0.001),
        ("peer", "a3", 0.004),
        ("peer", "a2", 0.03),
        ("concession", "ck_ccc1", None),
    ]
    assert attention.cleared_count(peers, flags) == 0


def test_cleared_flags_leave_the_list() -> None:
    flags = frame(flag_rows()).with_columns(status=pl.lit("cleared"))
    listed = attention.attention_list(None, flags, None)
    assert listed.is_empty() and attention.cleared_count(None, flags) == 2


# --- funnel plots -------------------------------------------------------------------------------


def test_funnel_limit_at_100_contacts() -> None:
    # p0 = 0.2, phi = 1, n = 100: sqrt(0.2 * 0.8 / 100) = 0.04; 95%: 0.2 -/+ 1.96 * 0.04.
    low, high = funnel.limit(0.2, 1.0, 0.95, 100)
    assert low == pytest.approx(0.2 - 1.959964 * 0.04, abs=1e-6)
    assert high == pytest.approx(0.2 + 1.959964 * 0.04, abs=1e-6)
    assert (round(low, 4), round(high, 4)) == (0.1216, 0.2784)
    # over-dispersion phi = 4 doubles the half-width; 99.8%: z = 3.090.
    assert funnel.limit(0.2, 4.0, 0.95, 100)[1] == pytest.approx(0.2 + 2 * 1.959964 * 0.04, abs=1e-6)
    assert funnel.limit(0.2, 1.0, 0.998, 100)[0] == pytest.approx(0.2 - 3.090232 * 0.04, abs=1e-6)
    assert funnel.limit(0.5, 1.0, 0.998, 1) == (0.0, 1.0)  # clipped


def test_funnel_curves_match_the_published_limits_at_each_agent() -> None:
    (f,) = funnel.funnels(frame(peer_rows()))
    assert (f.metric, f.peer_rate, f.overdispersion) == ("follow_up", 0.2, 1.0)
    # the centre's agents, in denominator order; the team rows are not on the centre's funnel
    assert f.points.select("agent_id", "denominator").rows() == [
        ("a2", 50),
        ("a3", 60),
        ("a1", 100),
        ("a4", 400),
    ]
    assert f.points.get_column("outside_outer").to_list() == [False, True, False, True]
    n = f.curves.get_column("denominator")
    assert (n.min(), n.max()) == pytest.approx((50.0, 400.0))
    published = {
        r["agent_id"]: r for r in frame(peer_rows()).filter(pl.col("comparison") == "centre").to_dicts()
    }
    at = funnel.curves(0.2, 1.0, 0.95, 0.998, [50.0, 400.0])
    for agent, n_agent in (("a2", 50.0), ("a4", 400.0)):
        got = {r["limit"]: r["rate"] for r in at.filter(pl.col("denominator") == n_agent).to_dicts()}
        for name in ("inner_low", "inner_high", "outer_low", "outer_high"):
            assert got[name] == pytest.approx(published[agent][f"{name.replace('_', '_limit_')}"], abs=1e-9)


def test_one_funnel_chart_per_rate_with_flagged_agents_labelled(pages: dict[str, str]) -> None:
    page = parse_page(pages["index.html"])
    charts = [e for e in page.find("div") if "funnel" in e.attrs.get("class", "")]
    assert [c.attrs["data-metric"] for c in charts] == ["follow_up"]
    assert float(charts[0].attrs["data-peer-rate"]) == 0.2
    html = pages["index.html"]
    start = html.index('class="chart funnel"')
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", html[start : html.index("</svg>", start)])
    assert "Follow-up rate: agents against the centre" in labels
    assert {"95% limits", "99.8% limits", "flagged", "outside 99.8% limits"} <= set(labels)
    # flagged (a2, a3) and outside the outer limits (a4) are labelled; a1, on the line, is a dot only
    assert [label for label in labels if re.fullmatch(r"a\d", label)] == ["a2", "a3", "a4"]


# --- period pages -------------------------------------------------------------------------------


def test_nav_links_every_period_page(pages: dict[str, str]) -> None:
    for name, current in (("index.html", "Day"), ("week.html", "Week"), ("rolling.html", "Rolling 28 days")):
        page = parse_page(pages[name])
        links = [(e.attrs["href"], e.text) for e in page.find("a") if e.inside("nav", id="pages")]
        assert links == [
            ("index.html", "Day"),
            ("week.html", "Week"),
            ("month.html", "Month"),
            ("rolling.html", "Rolling 28 days"),
        ]
        (here,) = [e for e in page.find("a") if e.attrs.get("aria-current") == "page"]
        assert here.text == current


def test_week_page_shows_the_weekly_rate_not_the_mean_of_daily_rates(pages: dict[str, str]) -> None:
    # a1 followed up 1 of 1 on D-1 and 15 of 20 on D (mean 87.5%); the week's table says 1 of 4.
    page = parse_page(pages["week.html"])
    cell = page.rate_cell("period-agent-table", {"data-agent": "a1"}, "follow_up")
    assert " ".join(cell.text.split()).startswith("25.0% 1/4")
    assert (cell.attrs["data-numerator"], cell.attrs["data-denominator"]) == ("1", "4")
    assert "87.5%" not in pages["week.html"]
    assert f"{WEEK_START.isoformat()} to 2026-11-22" in pages["week.html"]
    team = page.rate_cell("period-team-table", {"data-team": "t1"}, "follow_up")
    assert (team.attrs["data-numerator"], team.attrs["data-denominator"]) == ("3", "14")
    assert "9/9" not in pages["week.html"]  # the week before is not this week


def test_month_and_rolling_pages_show_their_own_periods(pages: dict[str, str]) -> None:
    month = parse_page(pages["month.html"]).rate_cell("period-agent-table", {"data-agent": "a1"}, "follow_up")
    assert (month.attrs["data-numerator"], month.attrs["data-denominator"]) == ("30", "40")
    assert f"{MONTH_START.isoformat()} to 2026-11-30" in pages["month.html"]
    rolling = parse_page(pages["rolling.html"]).rate_cell(
        "period-agent-table", {"data-agent": "a1"}, "follow_up"
    )
    assert (rolling.attrs["data-numerator"], rolling.attrs["data-denominator"]) == ("33", "44")


def test_period_pages_without_period_tables_say_so(shared_warehouse: Path) -> None:
    pages = build_report_pages(str(shared_warehouse), D)
    assert "No agent period scorecard published for this period." in pages["week.html"]
    assert "No peer comparison published" in pages["index.html"]
    assert sections(pages["week.html"])[0] == "attention"


def test_a_peer_table_with_nobody_tested_says_so(v2_warehouse: Path) -> None:
    from report.render import render_report
    from report.tables import load_audit_day

    day = load_audit_day(str(v2_warehouse), D, pages=True)
    assert day.peer_comparison is not None
    nobody = replace(day, peer_comparison=day.peer_comparison.clear())
    html = render_report(nobody, min_volume=20, data_docs_url=None)
    assert "No agent had enough contacts over the 28 days ending 2026-11-20" in html


# --- agent pages --------------------------------------------------------------------------------


def test_agent_page_has_trend_periods_and_flags(pages: dict[str, str]) -> None:
    page = parse_page(pages["agents/a1.html"])
    days = [
        e.attrs["data-day"]
        for e in page.find("tr")
        if e.inside("table", id="agent-trend-table") and "data-day" in e.attrs
    ]
    assert days == ["2026-11-19", "2026-11-20"]  # D-30 is outside the 28 days
    d1 = page.rate_cell("agent-trend-table", {"data-day": "2026-11-19"}, "follow_up")
    assert (d1.attrs["data-numerator"], d1.attrs["data-denominator"]) == ("1", "1")
    periods = [e.attrs["data-period"] for e in page.find("tr") if "data-period" in e.attrs]
    assert periods == ["week", "month", "rolling_28d"]
    week = page.rate_cell("agent-period-table", {"data-period": "week"}, "follow_up")
    assert (week.attrs["data-numerator"], week.attrs["data-denominator"]) == ("1", "4")
    assert attention_rows(pages["agents/a1.html"]) == []
    assert attention_rows(pages["agents/a2.html"]) == [
        ("concession", "new", "a2", "high_concession_rate"),
        ("peer", "ongoing", "a2", "follow_up"),
    ]


def test_agent_links_and_relative_paths_from_agent_pages(pages: dict[str, str]) -> None:
    index = parse_page(pages["index.html"])
    (link,) = [e for e in index.find("a") if e.inside("table", id="scorecard-table") and e.text == "a3"]
    assert link.attrs["href"] == "agents/a3.html"
    links = hyperlinks(pages["agents/a3.html"])
    assert "../index.html" in links and "../week.html" in links and f"../{DOCS}" in links


def test_agent_page_names_are_safe_and_distinct() -> None:
    assert agent_page_name("a1") == "a1.html"
    odd = agent_page_name("../etc/passwd")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.html", odd) and "/" not in odd
    assert agent_page_name("a b") != agent_page_name("a/b")
    assert re.fullmatch(r"-[0-9a-f]{8}\.html", agent_page_name(""))


# --- presentation details -----------------------------------------------------------------------


def test_customer_keys_are_shortened_with_the_full_key_in_the_title(
    v2_warehouse: Path, pages: dict[str, str]
) -> None:
    page = parse_page(pages["index.html"])
    keys = [(e.text, e.attrs["title"]) for e in page.find("span") if "ck" in e.attrs.get("class", "").split()]
    assert ("ck_ccc1", "ck_ccc1") in keys
    long = "0123456789abcdef0123456789abcdef"
    from report.render import short_key

    assert short_key(long) == "01234567"


def test_first_column_sticks_when_wide_tables_scroll(pages: dict[str, str]) -> None:
    css = re.search(r"<style>(.*?)</style>", pages["week.html"], re.S)
    assert css and re.search(r"\.scroll table td:first-child \{[^}]*position: sticky; left: 0", css.group(1))


def test_data_quality_line_links_the_data_docs(tmp_path: Path) -> None:
    from report.views import data_quality

    manifest = pl.DataFrame(
        {
            "run_id": ["r1"],
            "rows_quarantined": [12],
            "validation": [
                [
                    {"suite": "tickets", "success": False, "critical_passed": True, "unsuccessful": 2},
                    {"suite": "calls", "success": True, "critical_passed": True, "unsuccessful": 0},
                ]
            ],
        }
    )
    quality = data_quality(manifest, "r1")
    assert quality.warning_suites == (("tickets", 2),) and quality.quarantined_rows == 12


def test_every_page_is_self_contained_and_published_in_one_folder(
    pages: dict[str, str], tmp_path: Path
) -> None:
    for name, html in pages.items():
        assert remote_assets(html) == [], name
        assert not [
            link for link in hyperlinks(html) if link.startswith(("http:", "https:", "/", "file:"))
        ], name
    location = publish_report(pages, str(tmp_path), D)
    assert location.endswith(report_key(D))
    folder = tmp_path / report_key(D, "")
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.html")) == sorted(pages)


def test_an_amount_outlier_names_the_agent_who_granted_it_and_their_team() -> None:
    """Its subject is the concession: the agent and team are the flag's own columns (the agent
    may have no scorecard row that day: a late outlier granted days before)."""
    outlier = {
        "audit_date": D,
        "flag_type": "amount_outlier",
        "subject_type": "concession",
        "subject_id": "E-0042",
        "agent_id": "a7",
        "team_id": "t9",
        "observed": 400.0,
        "expected": 40.0,
        "statistic": 6.1,
        "q_value": None,
        "evidence_ids": ["E-0042"],
    }
    rate_flag = {**outlier, "flag_type": "high_concession_rate", "subject_type": "agent", "subject_id": "a2"}
    rate_flag |= {"agent_id": "a2", "team_id": None, "q_value": 0.01}
    scorecard = pl.DataFrame({"agent_id": ["a2"], "team_id": ["t1"]})
    listed = attention.attention_list(None, pl.DataFrame([outlier, rate_flag]), scorecard)
    assert listed.select("flag", "subject_id", "agent_id", "team_id").rows() == [
        ("high_concession_rate", "a2", "a2", "t1"),  # no team on the flag: the scorecard's
        ("amount_outlier", "E-0042", "a7", "t9"),
    ]


def test_the_cleared_note_counts_concession_flags_that_stopped(tmp_path: Path) -> None:
    """A concession flag that stopped is a lifecycle row `cleared` on the day (it is in no flag
    row of the day): the note counts it beside the cleared peer rows."""
    from report.tables import load_audit_day

    warehouse = build_warehouse(tmp_path / "wh", v2=True)
    cleared = {
        "audit_date": D,
        "flag_type": "amount_outlier",
        "subject_type": "concession",
        "subject_id": "E-0001",
        "status": "cleared",
        "first_flagged_on": D - timedelta(days=1),
        "consecutive_days": 1,
        "run_id": "r",
    }
    rows = [*lifecycle_rows(), cleared]
    frame(rows).write_delta(
        f"{warehouse}/concession_flag_lifecycle",
        mode="overwrite",
        delta_write_options={"partition_by": ["audit_date"]},
    )
    day = load_audit_day(str(warehouse), D, pages=True)
    assert day.cleared_concession_flags is not None and day.cleared_concession_flags.height == 1
    # a5's team peer flag and the outlier.
    assert attention.cleared_count(day.peer_comparison, day.cleared_concession_flags) == 2
