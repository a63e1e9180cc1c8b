"""The report folder: the day page (index.html), one page per period holding the day (week.html,
month.html, rolling.html) and one page per agent (agents/<agent>.html), linked by a nav bar.

Every page is static and self-contained (inline CSS and SVG, the same CSP); links between
them are relative, so the folder works from disk, a static site or a copy. Period pages show
the period scorecards' own rates (summed numerators over summed denominators), never an
average of daily rates.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import polars as pl
from markupsafe import Markup

import catalogue
from report import charts, views
from report.render import (
    PAGES,
    Site,
    _environment,
    attention_context,
    base_context,
    render_report,
    report_link,
    sorted_rows,
)
from report.tables import TREND_DAYS, AuditDay, PeriodRows, periods_of

AGENTS_DIR = "agents"
PERIOD_LABELS = {"week": "Week", "month": "Month", "rolling_28d": "Rolling 28 days"}
SAFE = re.compile(r"[^A-Za-z0-9_-]")
PERIOD_COLUMNS = ("published_days", "active_days", *views.VOLUME_COLUMNS)


def agent_page_name(agent_id: str) -> str:
    """A file name for the agent's page that is safe on any file system and URL: letters, digits,
    `_` and `-` kept; anything else replaced, and a short hash of the id added so two ids that
    differ only in replaced characters never share a page."""
    safe = SAFE.sub("_", agent_id)[:64]
    if safe != agent_id or not safe:
        safe += "-" + hashlib.sha256(agent_id.encode("utf-8")).hexdigest()[:8]
    return f"{safe}.html"


def report_agents(day: AuditDay) -> list[str]:
    """Every agent the pages mention: on the day, in the trend, in a period or in the peer comparison."""
    frames = [day.agent_scorecard, day.agent_trend, day.peer_comparison]
    frames += [rows.agents for rows in day.periods.values()]
    ids: set[str] = set()
    for frame in frames:
        if frame is not None and "agent_id" in frame.columns:
            ids |= set(frame.get_column("agent_id").drop_nulls().to_list())
    return sorted(ids)


def render_pages(
    day: AuditDay,
    *,
    min_volume: int,
    data_docs_url: str | None,
    reports_uri: str | None = None,
    relative_links: bool = True,
) -> dict[str, str]:
    """Every page of the day's report folder, by its path inside the folder."""
    agent_pages = {a: agent_page_name(a) for a in report_agents(day)}
    run = views.run_info(day.run_manifest, day.agent_scorecard)
    docs = report_link(data_docs_url or run.data_docs_uri, reports_uri, relative=relative_links)
    pages = {
        "index.html": render_report(
            day,
            min_volume=min_volume,
            data_docs_url=docs,
            reports_uri=reports_uri,
            relative_links=relative_links,
            site=Site("day", agent_pages),
        )
    }
    for kind, href, _ in PAGES[1:]:
        site = Site(kind, agent_pages)
        pages[href] = render_period(
            day, day.periods.get(kind), kind, base_context(day, run, docs, min_volume, site)
        )
    rows = AgentRows.of(day, min_volume)
    frame = base_context(day, run, docs, min_volume, Site("agent", agent_pages, root="../"))
    for agent_id, name in agent_pages.items():
        pages[f"{AGENTS_DIR}/{name}"] = render_agent(day, agent_id, frame, rows)
    return pages


def render_period(day: AuditDay, rows: PeriodRows | None, kind: str, frame: dict[str, Any]) -> str:
    """A period page: the attention list, then the team and agent period scorecards as published."""
    period = rows.period if rows else {str(p.kind): p for p in periods_of(day.audit_date)}[kind]
    agents = rows.agents if rows else None
    teams = rows.teams if rows else None
    metrics = views.rate_metrics(agents if agents is not None else teams)
    published = _largest(agents if agents is not None else teams, "published_days")
    present = set(agents.columns) if agents is not None else set()
    context = {
        **frame,
        **attention_context(day),
        "period": period,
        "period_label": PERIOD_LABELS[kind],
        "published_days": published,
        "refreshed": rows.refreshed if rows else True,
        "metrics": metrics,
        "columns": [c for c in PERIOD_COLUMNS if c in present],
        "agents": sorted_rows(agents, "agent_id"),
        "teams": sorted_rows(teams, "team_id"),
    }
    return _environment().get_template("period.html.j2").render(**context)


def _largest(frame: pl.DataFrame | None, column: str) -> Any:
    """A period's published days (the same on every row of the period)."""
    if frame is None or frame.is_empty() or column not in frame.columns:
        return None
    return frame.get_column(column).max()


@dataclass(frozen=True)
class AgentRows:
    """What the agent pages show, shaped once for every agent (a centre has hundreds of them):
    the attention section, the daily and period rows grouped by agent, each agent's team and
    the series of their trend chart."""

    attention: dict[str, Any]
    trend: dict[str, pl.DataFrame]
    periods: dict[str, pl.DataFrame]
    teams: dict[str, str]
    trend_series: dict[str, charts.TrendSeries]

    @classmethod
    def of(cls, day: AuditDay, min_volume: int) -> AgentRows:
        period_frames = [r.agents for r in day.periods.values() if r.agents is not None and r.agents.height]
        periods = pl.concat(period_frames, how="diagonal_relaxed") if period_frames else None
        return cls(
            attention_context(day),
            _by_agent(day.agent_trend, min_volume),
            _by_agent(periods, min_volume),
            _teams(day),
            _trend_series(day.agent_trend, min_volume),
        )


def _by_agent(frame: pl.DataFrame | None, min_volume: int) -> dict[str, pl.DataFrame]:
    if frame is None or frame.is_empty() or "agent_id" not in frame.columns:
        return {}
    groups = views.complete_rates(frame, min_volume).partition_by("agent_id", as_dict=True)
    return {str(key[0]): rows for key, rows in groups.items()}


def _teams(day: AuditDay) -> dict[str, str]:
    """Each agent's team as their page names it: the last team on the day's scorecard, else in
    their trend, else in the peer comparison."""
    teams: dict[str, str] = {}
    for frame in (day.peer_comparison, day.agent_trend, day.agent_scorecard):  # the first wins
        if frame is not None and {"agent_id", "team_id"} <= set(frame.columns):
            last = (
                frame.filter(pl.col("agent_id").is_not_null() & pl.col("team_id").is_not_null())
                .group_by("agent_id", maintain_order=True)
                .agg(pl.col("team_id").last())
            )
            teams |= {str(a): str(t) for a, t in last.iter_rows()}
    return teams


def _trend_series(trend: pl.DataFrame | None, min_volume: int) -> dict[str, charts.TrendSeries]:
    """Every agent's headline rates by day, for their trend chart."""
    if trend is None or trend.is_empty() or "agent_id" not in trend.columns:
        return {}
    complete = views.complete_rates(trend, min_volume)
    headline = tuple(m for m in catalogue.headline_metrics() if m in views.rate_metrics(complete))
    if not headline:
        return {}
    series = charts.trend_series(views.trend_long(complete, headline, keep=("agent_id",)), "agent_id")
    return {str(agent): points for agent, points in series.items()}


def agent_attention(rows: AgentRows, agent_id: str) -> dict[str, Any]:
    """The attention section narrowed to one agent: their flags and their rates outside the limits."""
    context = rows.attention
    return {
        "attention": [r for r in context["attention"] if r["agent_id"] == agent_id],
        "outside_limits": [r for r in context["outside_limits"] if r["agent_id"] == agent_id],
        "cleared_flags": 0,
    }


def render_agent(day: AuditDay, agent_id: str, frame: dict[str, Any], rows: AgentRows) -> str:
    """An agent's page: their flags, their period rows and their daily trend over 28 days."""
    trend, periods = rows.trend.get(agent_id), rows.periods.get(agent_id)
    metrics = views.agent_columns(views.rate_metrics(trend if trend is not None else periods))
    order = list(PERIOD_LABELS)
    context = {
        **frame,
        **agent_attention(rows, agent_id),
        "agent_id": agent_id,
        "team_id": rows.teams.get(agent_id),
        "metrics": metrics,
        "trend_days": TREND_DAYS,
        "trend": sorted_rows(trend, "audit_date"),
        "trend_chart": _trend_chart(rows.trend_series.get(agent_id), day, agent_id),
        "periods": sorted(
            (
                row | {"period_label": PERIOD_LABELS.get(row["period"], row["period"])}
                for row in sorted_rows(periods, "period")
            ),
            key=lambda row: order.index(row["period"]) if row["period"] in order else len(order),
        ),
    }
    return _environment().get_template("agent.html.j2").render(**context)


def _trend_chart(series: charts.TrendSeries | None, day: AuditDay, agent_id: str) -> Markup | None:
    """The agent's headline rates by day (a hand-drawn SVG: one per agent must be cheap)."""
    if not series:
        return None
    title = f"{agent_id}: headline rates by day, last {TREND_DAYS} days (hollow: low volume)"
    svg = charts.small_trend_svg(series, day.audit_date, TREND_DAYS, title)
    return Markup(svg) if svg else None  # built from numbers and escaped labels only
