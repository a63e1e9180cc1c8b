"""The HTML audit report: one self-contained file per audit day.

Figures come from `views`, charts from `charts`, layout from templates/report.html.j2.
Only allow-listed columns reach the page (published columns only, see `tables.visible`), so raw
customer ids and free text cannot be rendered even if a table carried them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

import catalogue
from catalogue import DATA_DOCS_PREFIX
from report import attention, charts, funnel, views
from report.tables import TREND_DAYS, AuditDay
from storage import is_s3
from transforms.stats import rate_column

TEMPLATES = Path(__file__).with_name("templates")
EVIDENCE_PREVIEW = 5  # evidence ids shown before a flag's full list is folded away
CHART_AGENTS = 60  # more agents than this: the rate and class charts show teams
CUSTOMER_KEY_CHARS = 8  # a customer key shown shortened; the full key is in its title attribute
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'unsafe-inline'"


@dataclass(frozen=True)
class RateCell:
    """One rate as the page shows it: value, fraction, interval and the low-volume marker."""

    metric: str
    numerator: int | None
    denominator: int | None
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    low_volume: bool

    @property
    def empty(self) -> bool:
        return self.rate is None

    @property
    def sort_value(self) -> str:
        return "" if self.rate is None else repr(self.rate)


def cell_html(
    metric: str,
    numerator: Any,
    denominator: Any,
    rate: Any,
    ci_low: Any,
    ci_high: Any,
    low_volume: bool,
    min_volume: int,
) -> str:
    """A rate cell as a table cell: the rate, its fraction and interval, the low-volume marker,
    and the data attributes the page's sorting and the tests read (values as `rate_cell` keeps
    them: finite numbers or None).

    Written here rather than as a Jinja macro: a 1,000-agent centre's agent pages hold ~340,000
    cells, and a macro call per cell took 12 s of the day's report. Numbers are written with
    str() (their text holds nothing to escape); the metric name is escaped."""
    empty = rate is None
    low = low_volume and not empty
    sort = "" if empty else repr(rate)
    head = (
        f'<td class="rate{" low-volume" if low else ""}" data-metric="{_escaped(metric)}"'
        f' data-sort="{sort}" data-value="{sort}"'
        f' data-numerator="{"" if numerator is None else numerator}"'
        f' data-denominator="{"" if denominator is None else denominator}"'
        f' data-low-volume="{"true" if low_volume else "false"}"'
    )
    if low:
        head += (
            f' title="Only {denominator} contacts (fewer than {escape(min_volume)}):'
            ' too few to judge, not a verdict"'
        )
    if empty:
        return f'{head}>\n<span class="na">–</span></td>\n'
    body = (
        f'<span class="r">{pct(rate)}</span> <span class="frac">{numerator}/{denominator}</span>'
        f'<br><span class="ci">[{pct(ci_low)} – {pct(ci_high)}]</span>'
    )
    if low_volume:
        body += '<span class="lv">low volume</span>'
    return f"{head}>\n{body}</td>\n"


@cache
def _escaped(text: str) -> str:
    return str(escape(text))


@cache
def _cell_columns(metric: str) -> tuple[str, str, str, str, str, str]:
    """A rate metric's published columns, in `RateCell` order (named once per metric)."""
    parts = ("numerator", "denominator", "rate", "ci_low", "ci_high")
    return (*(f"{metric}_{part}" for part in parts), rate_column(metric, "low_volume"))  # type: ignore[return-value]


def rate_cell(row: dict[str, Any], metric: str) -> RateCell:
    return RateCell(metric, *_cell_values(row, metric))


def _cell_values(row: dict[str, Any], metric: str) -> tuple[Any, Any, Any, Any, Any, bool]:
    """A rate's numerator, denominator, rate, interval (finite numbers, else None) and its
    low-volume marker, read from a scorecard row."""
    numerator, denominator, rate, ci_low, ci_high, low_volume = _cell_columns(metric)
    return (
        _finite(row.get(numerator)),
        _finite(row.get(denominator)),
        _finite(row.get(rate)),
        _finite(row.get(ci_low)),
        _finite(row.get(ci_high)),
        bool(row.get(low_volume)),
    )


def _finite(value: Any) -> Any:
    """The value when it is a finite number, else None (ints and floats checked first: this
    runs five times per cell)."""
    kind = type(value)
    if kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    return value if views.is_finite(value) else None


def row_tds(row: dict[str, Any], metrics: Iterable[str], min_volume: int) -> Markup:
    """A scorecard row's rate cells for these metrics, in one call from a template."""
    return Markup("".join(cell_html(metric, *_cell_values(row, metric), min_volume) for metric in metrics))


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def number(value: Any) -> str:
    """Counts as integers, statistics with three significant digits, missing as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "–"
    return str(value)


def short_key(key: Any) -> str:
    """A customer key as the page shows it: its first 8 characters (the full key is in the title)."""
    return str(key)[:CUSTOMER_KEY_CHARS]


# Pages of the report folder: (kind, file, label), the day first (index.html).
PAGES = (
    ("day", "index.html", "Day"),
    ("week", "week.html", "Week"),
    ("month", "month.html", "Month"),
    ("rolling_28d", "rolling.html", "Rolling 28 days"),
)


@dataclass(frozen=True)
class Site:
    """Where a page sits in the report folder: the page shown, the agents' page files, and the
    relative path back to the folder (`../` from agents/). No site: a single file, no links."""

    current: str
    agent_pages: dict[str, str]
    root: str = ""

    def nav(self) -> list[dict[str, Any]]:
        return [
            {"href": href, "label": label, "current": kind == self.current} for kind, href, label in PAGES
        ]


def page_link(link: str | None, root: str) -> str | None:
    """A link relative to the report folder, seen from a page `root` deeper (agents/)."""
    if not link or not root or "://" in link or link.startswith("/"):
        return link
    return root + link


def base_context(
    day: AuditDay, run: views.RunInfo, data_docs_url: str | None, min_volume: int, site: Site | None
) -> dict[str, Any]:
    """What every page's frame shows: title, nav, footer, and the agents that have a page."""
    return {
        "audit_date": day.audit_date,
        "csp": CSP,
        "min_volume": min_volume,
        "run": run,
        "data_docs_url": page_link(data_docs_url, site.root if site else ""),
        "nav": site.nav() if site else [],
        "root": site.root if site else "",
        "agent_pages": site.agent_pages if site else {},
        "evidence_preview": EVIDENCE_PREVIEW,
        "labels": views.rate_labels(),
    }


def attention_context(day: AuditDay) -> dict[str, Any]:
    """The "What needs attention" section: flags new then ongoing, and agents outside the outer limits."""
    flags = attention.attention_list(day.peer_comparison, day.concession_flags, day.agent_scorecard)
    return {
        "attention": attention.display_rows(flags),
        "outside_limits": attention.outside_outer_limits(day.peer_comparison).to_dicts(),
        "cleared_flags": attention.cleared_count(day.peer_comparison, day.cleared_concession_flags),
    }


def funnel_charts(day: AuditDay) -> list[dict[str, Any]]:
    """One funnel plot per rate metric with tested agents (centre comparison)."""
    out = []
    for f in funnel.funnels(day.peer_comparison):
        svg = _svg(charts.funnel_spec(f, f"{views.metric_label(f.metric)} rate"))
        if svg is not None:
            out.append(
                {"metric": f.metric, "peer_rate": f.peer_rate, "overdispersion": f.overdispersion, "svg": svg}
            )
    return out


@cache
def _environment() -> Environment:
    """One environment per process: it keeps the compiled template (0.2 s to compile), which a
    backfill would otherwise compile again for every day."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["number"] = number
    env.filters["short_key"] = short_key
    env.globals["row_tds"] = row_tds
    return env


def _svg(spec: dict[str, Any] | None) -> Markup | None:
    # vl-convert's output is trusted markup built from our own escaped spec values.
    return Markup(charts.render_svg(spec)) if spec else None


def sorted_rows(frame: pl.DataFrame | None, by: str) -> list[dict[str, Any]]:
    """A scorecard's rows as dicts, sorted; the templates write their rate cells (`row_tds`)."""
    if frame is None or frame.is_empty():
        return []
    return frame.sort(by, nulls_last=True).to_dicts()


def _rows(frame: pl.DataFrame, columns: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    present = [c for c in columns if c in frame.columns]
    return frame.select(present).to_dicts() if present else []


def render_report(
    day: AuditDay,
    *,
    min_volume: int,
    data_docs_url: str | None,
    reports_uri: str | None = None,
    relative_links: bool = True,
    site: Site | None = None,
) -> str:
    """The report's HTML for one audit day (the day page, index.html, of the report folder).

    The Data Docs link is `data_docs_url`, else the manifest's `data_docs_uri`, made
    relative when it lives under the same reports URI (see `report_link`); a report saved
    elsewhere (`relative_links=False`) keeps an absolute link.
    """
    run = views.run_info(day.run_manifest, day.agent_scorecard)
    published = day.agent_scorecard if day.has_audit_tables else None
    scorecard = views.complete_rates(published, min_volume) if published is not None else None
    metrics = views.rate_metrics(scorecard)
    headline = views.headline(day.team_scorecard, scorecard, min_volume)
    trend = views.daily_trend(day.trend_scorecard, min_volume)
    classes = views.escalation_classes_by_agent(day.escalation_audit)
    agents = scorecard.sort("agent_id", nulls_last=True).to_dicts() if scorecard is not None else []

    # A chart of every agent stops being readable (and takes seconds to draw) in a large centre:
    # past CHART_AGENTS agents the charts show teams; the tables still list every agent.
    by = "team_id" if len(agents) > CHART_AGENTS else "agent_id"
    charted = (
        views.rollup(scorecard, ["team_id"], min_volume)
        if by == "team_id" and scorecard is not None
        else scorecard
    )

    def chart(metric: str) -> Markup | None:
        if charted is None or metric not in metrics:
            return None
        title = f"{views.metric_label(metric)} rate" + (" by team" if by == "team_id" else "")
        return _svg(charts.rate_by_agent_spec(charted, metric, title, by=by))

    headline_metrics = [m for m in catalogue.headline_metrics() if m in metrics] or metrics[:4]
    docs = report_link(data_docs_url or run.data_docs_uri, reports_uri, relative=relative_links)
    context = {
        **base_context(day, run, docs, min_volume, site),
        **attention_context(day),
        "funnels": funnel_charts(day),
        "peer_published": day.peer_comparison is not None,
        "data_quality": views.data_quality(day.run_manifest, run.run_id),
        "has_audit_tables": day.has_audit_tables,
        "labels": {m: views.metric_label(m) for m in metrics},
        "metrics": views.agent_columns(metrics),  # the agent table's
        "headline_metrics": headline_metrics,
        "volume_columns": [
            c for c in views.VOLUME_COLUMNS if scorecard is not None and c in scorecard.columns
        ],
        "count_columns": [c for c in views.COUNT_COLUMNS if scorecard is not None and c in scorecard.columns],
        "headline": headline.to_dicts(),
        "agents": agents,
        "measures": views.agent_columns(views.other_measures(scorecard)),
        "charts": {
            "follow_up": chart("follow_up"),
            "missed_escalation": chart("missed_escalation"),
            "first_contact_resolution": chart("first_contact_resolution"),
            "reopen": chart("reopen"),
            "escalation_classes": _svg(charts.escalation_classes_spec(classes, by=by)),
            "trend": _svg(
                charts.trend_spec(
                    views.trend_long(trend, tuple(headline_metrics)), day.audit_date, TREND_DAYS
                )
            ),
        },
        "missed_follow_ups": _rows(
            views.missed_follow_ups(day.follow_up_audit),
            [
                "contact_id",
                "contact_type",
                "agent_id",
                "team_id",
                "customer_key",
                "is_customer_came_back_first",
            ],
        ),
        "follow_up_evidence": day.follow_up_audit is not None,
        "escalation_classes": _rows(classes, ["agent_id", "team_id", *views.ESCALATION_CLASSES]),
        "escalation_class_names": views.ESCALATION_CLASSES,
        "escalations_to_review": _rows(
            views.escalations_to_review(day.escalation_audit),
            ["escalation_class", "contact_id", "contact_type", "agent_id", "team_id", "signals"],
        ),
        "escalation_evidence": day.escalation_audit is not None,
        "flags": _rows(
            views.sorted_flags(day.concession_flags),
            list(views.FLAG_COLUMNS),
        ),
        "flag_evidence": day.concession_flags is not None,
        "violations": _rows(
            views.policy_violations(day.concession_audit),
            list(views.VIOLATION_COLUMNS),
        ),
        "concession_evidence": day.concession_audit is not None,
        "queues": views.queue_rows(day.queue_scorecard).to_dicts(),
        "queue_evidence": day.queue_scorecard is not None,
        "trend": sorted_rows(trend, "audit_date"),
        "trend_days": TREND_DAYS,
    }
    return _environment().get_template("report.html.j2").render(**context)


def report_link(target: str | None, reports_uri: str | None, *, relative: bool = True) -> str | None:
    """A link that works wherever the reports folder is opened or served.

    A target under the reports root becomes relative to the report's own folder
    (`audit_report/audit_date=D/`), so it works from a local folder, an S3 static site
    or a copy. The root is `reports_uri`, else inferred from the Data Docs prefix.
    A web URL is kept as it is; another local path becomes a file:// URI.
    """
    if not target:
        return None
    if target.startswith(("http://", "https://")):
        return target
    root: str | None = None
    if not relative:
        pass
    elif reports_uri:
        root = reports_uri if is_s3(reports_uri) else Path(reports_uri).resolve().as_posix()
    elif f"/{DATA_DOCS_PREFIX}/" in target:
        root = target.partition(f"/{DATA_DOCS_PREFIX}/")[0]
    if root and target.startswith(root.rstrip("/") + "/"):
        return "../../" + target[len(root.rstrip("/")) + 1 :]
    if target.startswith("/"):
        return Path(target).as_uri()
    return target
