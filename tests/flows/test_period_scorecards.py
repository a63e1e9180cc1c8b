"""Period scorecards as the flows publish them: sums of the published days, and refreshed by
a re-audit of a day inside them (warehouse/periods.py)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import catalogue
from configs.settings import load_settings
from flows import daily
from transforms.periods import periods_containing
from warehouse.delta import read_table
from warehouse.publication import read_published

SUMMED = [
    *(f"{m}_{p}" for m in catalogue.rate_metrics() for p in ("numerator", "denominator")),
    *(m.name for m in catalogue.metrics("count")),
    "contacts",
    "tickets_solved",
    "calls_answered",
]


def _expected(daily_rows: pl.DataFrame, periods: pl.DataFrame, key: str) -> pl.DataFrame:
    """Each period's sums straight from the published daily rows of its days."""
    days = periods.select("period", "period_start", "period_end").unique()
    joined = days.join(daily_rows, how="cross").filter(
        pl.col("audit_date").is_between(pl.col("period_start"), pl.col("period_end"))
    )
    return (
        joined.group_by("period", "period_start", key)
        .agg(pl.col(SUMMED).sum(), pl.len().cast(pl.Int64).alias("active_days"))
        .sort("period", "period_start", key, nulls_last=True)
    )


@pytest.mark.integration
@pytest.mark.xdist_group("prefect-quickstart")
@pytest.mark.parametrize("level", ["agent", "team"])
def test_every_period_of_the_quickstart_is_the_sum_of_its_published_days(
    quickstart_run: tuple[Path, str], level: str
) -> None:
    root, _ = quickstart_run
    warehouse = str(root / "warehouse")
    dailies = read_published(warehouse, f"{level}_scorecard")
    periods = read_table(warehouse, f"{level}_period_scorecard")
    assert dailies is not None and periods.height > 0
    key = f"{level}_id"
    got = periods.select("period", "period_start", key, *SUMMED, "active_days").sort(
        "period", "period_start", key, nulls_last=True
    )
    assert_frame_equal(got, _expected(dailies, periods, key).select(got.columns))
    # Every week, month and rolling window holding a published day is there, and only those.
    published = sorted(set(dailies["audit_date"]))
    wanted = {(p.kind, p.start) for p in periods_containing(published, published)}
    assert set(periods.select("period", "period_start").iter_rows()) == wanted
    assert (periods["published_days"] >= periods["active_days"]).all()
    # Computed with the refreshing run's policy (min_volume), whose version every row carries.
    version = load_settings().policy().version
    assert set(periods["policy_version"]) == set(dailies["policy_version"]) == {version}


@pytest.mark.integration
@pytest.mark.xdist_group("prefect-quickstart")
def test_the_agents_and_teams_tables_name_everyone_the_published_tables_name(
    quickstart_run: tuple[Path, str], audit_env: str
) -> None:
    """A BI join from any scorecard or peer row to `agents` / `teams` never misses, and the
    dimension tables say which store snapshot they describe: the one audits read now."""
    from configs.settings import load_settings
    from warehouse.dimensions import stored_snapshot
    from warehouse.store import Store

    root, _ = quickstart_run
    warehouse = str(root / "warehouse")
    agents, teams = read_table(warehouse, "agents"), read_table(warehouse, "teams")
    assert agents["agent_id"].is_unique().all() and teams["team_id"].is_unique().all()
    named_agents = set(read_table(warehouse, "agent_scorecard")["agent_id"].drop_nulls())
    named_agents |= set(read_table(warehouse, "peer_comparison")["agent_id"])
    named_agents |= set(read_table(warehouse, "concession_audit")["approved_by"].drop_nulls())
    assert named_agents and named_agents <= set(agents["agent_id"])
    named_teams = set(read_table(warehouse, "team_scorecard")["team_id"].drop_nulls())
    assert named_teams and named_teams | set(agents["team_id"].drop_nulls()) <= set(teams["team_id"])
    # Members by role add up to the agents whose current team is known.
    assert teams["agents"].sum() + teams["supervisors"].sum() == agents["team_id"].is_not_null().sum()
    settings = load_settings(env="local", warehouse_uri=warehouse, reports_uri=str(root / "reports"))
    assert stored_snapshot(settings) == Store(settings.canonical_store_uri()).snapshot()
    # The sample's supervisors act as supervisors; an agent approving their own concession (a
    # planted violation) stays an agent.
    events = (
        pl.scan_delta(f"{settings.canonical_store_uri()}/ticket_events")
        .filter(pl.col("dedup_outcome") == "kept")
        .select("actor_id", "actor_role", "approved_by")
        .collect()
    )
    acting = events.filter(pl.col("actor_role").is_in(["agent", "supervisor"]))
    as_supervisor = set(acting.filter(pl.col("actor_role") == "supervisor")["actor_id"])
    call_approvers = (
        pl.scan_delta(f"{settings.canonical_store_uri()}/calls")
        .filter((pl.col("dedup_outcome") == "kept") & pl.col("concession_type").is_not_null())
        .select("approved_by")
        .collect()["approved_by"]
    )
    approvers = set(events["approved_by"].drop_nulls()) | set(call_approvers.drop_nulls())
    only_approving = approvers - set(acting["actor_id"])
    supervisors = set(agents.filter(pl.col("role") == "supervisor")["agent_id"])
    assert as_supervisor and supervisors == as_supervisor | only_approving


RE_AUDITED = date(2026, 3, 8)  # a Sunday: its week is 03-02 .. 03-08


@dataclass(frozen=True)
class ReAudit:
    """A copy of the quickstart with one early day re-audited by a backfill (no ingest)."""

    places: dict[str, str]
    before: pl.DataFrame  # agent_period_scorecard before the re-audit
    results: list[dict[str, Any]]  # the backfill's
    published: list[date]  # the audit days published before the re-audit
    pages: dict[date, Path]  # the re-audited, a later and the newest day's report, set "stale" before


@pytest.fixture(scope="module")
def re_audit(
    quickstart_run: tuple[Path, str], s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> ReAudit:
    """One re-audit of RE_AUDITED, which both tests below read: the periods it refreshes and the
    reports it rebuilds. The report pages of the day, of a day between it and the newest day,
    and of the newest day are overwritten with "stale" first, so the test sees which it rebuilt."""
    from flow_fixtures import audit_environment

    root, _ = quickstart_run
    tmp_path = tmp_path_factory.mktemp("re-audit")
    for name in ("landing", "warehouse", "reports"):
        shutil.copytree(root / name, tmp_path / name)
    places = {name: str(tmp_path / name) for name in ("landing", "warehouse", "reports")}
    before = read_table(places["warehouse"], "agent_period_scorecard")
    published = sorted(set(read_table(places["warehouse"], "agent_scorecard")["audit_date"]))
    report = tmp_path / "reports" / "audit_report"
    days = (RE_AUDITED, published[-2], published[-1])
    pages = {d: report / f"audit_date={d.isoformat()}" / "index.html" for d in days}
    for page in pages.values():
        page.write_text("stale", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        audit_environment(mp, s3_endpoint)
        results = daily.backfill(start=RE_AUDITED, end=RE_AUDITED, ingest=False, **places)
    return ReAudit(places, before, results, published, pages)


@pytest.mark.integration
@pytest.mark.xdist_group("prefect-quickstart")
def test_a_re_audit_refreshes_exactly_the_periods_holding_its_day(re_audit: ReAudit, audit_env: str) -> None:
    """Re-audit one day of a copy of the quickstart: its week, its month and the rolling windows
    holding it get the new run's rows; every other period keeps the rows it had."""
    places, before, day = re_audit.places, re_audit.before, RE_AUDITED
    after = read_table(places["warehouse"], "agent_period_scorecard")

    new_run = re_audit.results[0]["run_id"]
    published = sorted(set(read_table(places["warehouse"], "agent_scorecard")["audit_date"]))
    assert published == re_audit.published
    holding = {(p.kind, p.start) for p in periods_containing([day], published)}
    refreshed = {
        (k, s) for k, s, r in after.select("period", "period_start", "run_id").iter_rows() if r == new_run
    }
    assert refreshed == holding
    assert ("week", date(2026, 3, 2)) in holding and ("month", date(2026, 3, 1)) in holding
    # Same inputs, same numbers: only run_id and the digest of the refreshed periods changed.
    keys = ["period", "period_start", "agent_id"]
    assert_frame_equal(
        after.drop("run_id", "source_digest").sort(keys), before.drop("run_id", "source_digest").sort(keys)
    )
    untouched = after.filter(
        ~pl.struct("period", "period_start").is_in([{"period": k, "period_start": s} for k, s in holding])
    )
    assert set(untouched["run_id"]) <= set(before["run_id"])
    # A second refresh with nothing newly published writes nothing.
    from configs.settings import load_settings
    from warehouse.periods import refresh_periods

    settings = load_settings(env="local", warehouse_uri=places["warehouse"], reports_uri=places["reports"])
    again = refresh_periods(settings, settings.policy(), "again")
    assert again.periods == () and again.versions == {}  # nor the agents and teams: no ingest since


@pytest.mark.integration
@pytest.mark.xdist_group("prefect-quickstart")
def test_a_backfill_rebuilds_the_newest_report_after_its_range(re_audit: ReAudit) -> None:
    """Re-audit one early day: its report and the newest published day's report are rebuilt (the
    newest one's trend and periods include the re-audited day); the days between are left alone."""
    pages = re_audit.pages
    day, between, newest = RE_AUDITED, re_audit.published[-2], re_audit.published[-1]
    assert day < between < newest
    assert pages[day].read_text(encoding="utf-8") != "stale"
    assert pages[newest].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (pages[newest].parent / "week.html").exists()
    assert pages[between].read_text(encoding="utf-8") == "stale"


@pytest.mark.integration
@pytest.mark.xdist_group("prefect-quickstart")
def test_a_period_page_says_when_a_day_was_published_after_its_rows(
    quickstart_run: tuple[Path, str], s3_endpoint: str, tmp_path: Path
) -> None:
    """A day published again with no period refresh after it (a run stopped between its publish
    point and its refresh): the week page of its report says its rows are not refreshed yet
    (an outside probe found the old rows shown with nothing saying so); after a refresh it
    does not."""
    from flow_fixtures import audit_environment

    from report.build import build_report_pages
    from warehouse.periods import refresh_periods

    root, _ = quickstart_run
    for name in ("landing", "warehouse", "reports"):
        shutil.copytree(root / name, tmp_path / name)
    places = {name: str(tmp_path / name) for name in ("landing", "warehouse", "reports")}
    notice = 'id="period-not-refreshed"'
    assert notice not in build_report_pages(places["warehouse"], RE_AUDITED)["week.html"]
    with pytest.MonkeyPatch.context() as mp:
        audit_environment(mp, s3_endpoint)
        mp.setattr(daily, "refresh_period_scorecards", lambda run: {})  # stopped before its refresh
        daily.backfill(start=RE_AUDITED, end=RE_AUDITED, ingest=False, **places)
        page = tmp_path / "reports" / "audit_report" / f"audit_date={RE_AUDITED.isoformat()}" / "week.html"
        assert notice in page.read_text(encoding="utf-8")
        later = build_report_pages(places["warehouse"], date(2026, 3, 9))  # the next week: untouched
        assert notice not in later["week.html"] and notice in later["month.html"]
        settings = load_settings(
            env="local", warehouse_uri=places["warehouse"], reports_uri=places["reports"]
        )
        refresh_periods(settings, settings.policy(), "refresh")
    pages = build_report_pages(places["warehouse"], RE_AUDITED)
    assert all(notice not in pages[name] for name in ("week.html", "month.html", "rolling.html"))
