"""Vega-Lite specs for the report's charts, rendered to inline SVG with vl-convert.

SVG keeps the report self-contained: no script, font or data is fetched when it opens.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
import vl_convert as vlc
from markupsafe import escape

from report.funnel import Funnel
from report.views import ESCALATION_CLASSES
from transforms.stats import rate_column

LOW_VOLUME_LEGEND = "low volume (not a verdict)"
FONT = "Helvetica, Arial, sans-serif"
_CONFIG: dict[str, Any] = {
    "font": FONT,
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 11},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "top"},
}


def render_svg(spec: dict[str, Any]) -> str:
    """Render a Vega-Lite spec to an SVG string (no network access, no browser)."""
    return str(vlc.vegalite_to_svg({"config": _CONFIG, **spec}))


def _values(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (dates as ISO strings)."""
    cast = [pl.col(c).dt.strftime("%Y-%m-%d") for c, t in frame.schema.items() if t == pl.Date]
    return frame.with_columns(cast).to_dicts()


def rate_by_agent_spec(
    scorecard: pl.DataFrame, metric: str, title: str, by: str = "agent_id"
) -> dict[str, Any] | None:
    """Bars of a rate per agent (or per team, `by="team_id"`) with Wilson interval error bars;
    low-volume bars greyed and labelled."""
    rate = f"{metric}_rate"
    if rate not in scorecard.columns:
        return None
    data = scorecard.filter(pl.col(f"{metric}_denominator") > 0).select(
        pl.col(by).fill_null("(no team)" if by == "team_id" else "(no agent)").alias("agent"),
        pl.col(rate).alias("rate"),
        pl.col(f"{metric}_ci_low").alias("ci_low"),
        pl.col(f"{metric}_ci_high").alias("ci_high"),
        pl.format("{}/{}", f"{metric}_numerator", f"{metric}_denominator").alias("fraction"),
        pl.when(pl.col(rate_column(metric, "low_volume")))
        .then(pl.lit(LOW_VOLUME_LEGEND))
        .otherwise(pl.lit("enough volume"))
        .alias("volume"),
    )
    if data.is_empty():
        return None
    y = {"field": "agent", "type": "nominal", "sort": "ascending", "title": None}
    return {
        "title": title,
        "width": 520,
        "data": {"values": _values(data)},
        "encoding": {"y": y},
        "layer": [
            {
                "mark": {"type": "bar", "height": {"band": 0.6}},
                "encoding": {
                    "x": {
                        "field": "rate",
                        "type": "quantitative",
                        "scale": {"domain": [0, 1]},
                        "axis": {"format": "%"},
                        "title": f"{title} (95% Wilson interval)",
                    },
                    "color": {
                        "field": "volume",
                        "type": "nominal",
                        "title": None,
                        "scale": {
                            "domain": ["enough volume", LOW_VOLUME_LEGEND],
                            "range": ["#4c78a8", "#c7c7c7"],
                        },
                    },
                },
            },
            {
                "mark": {"type": "rule", "color": "#222", "strokeWidth": 1.5},
                "encoding": {"x": {"field": "ci_low", "type": "quantitative"}, "x2": {"field": "ci_high"}},
            },
            {
                "mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 10, "color": "#333"},
                "encoding": {"x": {"value": 525}, "text": {"field": "fraction"}},
            },
        ],
    }


def escalation_classes_spec(classes_by_agent: pl.DataFrame, by: str = "agent_id") -> dict[str, Any] | None:
    """Stacked bars: classified contacts per agent (or team) by escalation class."""
    if classes_by_agent.is_empty():
        return None
    counts = classes_by_agent.group_by(by).agg(pl.col(list(ESCALATION_CLASSES)).sum())
    long = (
        counts.select(pl.col(by).fill_null("(none)").alias("agent_id"), *ESCALATION_CLASSES)
        .unpivot(index="agent_id", on=list(ESCALATION_CLASSES), variable_name="class", value_name="contacts")
        .filter(pl.col("contacts") > 0)
    )
    return {
        "title": f"Escalation classes by {'team' if by == 'team_id' else 'agent'}",
        "width": 520,
        "data": {"values": _values(long)},
        "mark": "bar",
        "encoding": {
            "y": {"field": "agent_id", "type": "nominal", "sort": "ascending", "title": None},
            "x": {
                "field": "contacts",
                "type": "quantitative",
                "stack": "zero",
                "title": "contacts",
                "axis": {"tickMinStep": 1, "format": "d"},
            },
            "color": {
                "field": "class",
                "type": "nominal",
                "title": None,
                "scale": {
                    "domain": list(ESCALATION_CLASSES),
                    "range": ["#54a24b", "#f58518", "#e45756", "#4c78a8", "#bab0ac"],
                },
            },
            "order": {"field": "class"},
        },
    }


def trend_spec(
    trend_long: pl.DataFrame, audit_date: date, days: int, title: str | None = None
) -> dict[str, Any] | None:
    """Daily headline rates over the trend window; low-volume days drawn as hollow points."""
    if trend_long.is_empty():
        return None
    data = trend_long.filter(pl.col("rate").is_not_null()).with_columns(
        pl.when(pl.col("low_volume"))
        .then(pl.lit(LOW_VOLUME_LEGEND))
        .otherwise(pl.lit("enough volume"))
        .alias("volume")
    )
    domain = [(audit_date - timedelta(days=days - 1)).isoformat(), audit_date.isoformat()]
    x = {
        "field": "audit_date",
        "type": "temporal",
        "scale": {"domain": domain},
        "axis": {"format": "%b %d"},
        "title": None,
    }
    y = {"field": "rate", "type": "quantitative", "scale": {"domain": [0, 1]}, "axis": {"format": "%"}}
    color = {"field": "metric", "type": "nominal", "title": None}
    return {
        "title": title or f"Headline rates, last {days} days (all teams, summed numerators / denominators)",
        "width": 720,
        "height": 260,
        "data": {"values": _values(data)},
        "layer": [
            {"mark": {"type": "line"}, "encoding": {"x": x, "y": y, "color": color}},
            {
                "mark": {"type": "point", "size": 40},
                "encoding": {
                    "x": x,
                    "y": y,
                    "color": color,
                    "shape": {"field": "volume", "type": "nominal", "title": None},
                    "fill": {
                        "condition": {"test": f"datum.volume === '{LOW_VOLUME_LEGEND}'", "value": "white"},
                        "field": "metric",
                        "type": "nominal",
                        "legend": None,
                    },
                },
            },
        ],
    }


FUNNEL_LIMITS = {
    "inner_low": "95% limits",
    "inner_high": "95% limits",
    "outer_low": "99.8% limits",
    "outer_high": "99.8% limits",
}


def funnel_spec(funnel: Funnel, title: str) -> dict[str, Any] | None:
    """A funnel plot: agents as dots (x = denominator, y = rate), the pooled rate as a line, the
    inner (dashed) and outer (solid) limit curves; flagged agents in red and labelled."""
    if funnel.points.is_empty():
        return None
    x = {
        "field": "denominator",
        "type": "quantitative",
        "scale": {"zero": False},
        "title": "denominator (contacts, 28 days)",
    }
    y = {"field": "rate", "type": "quantitative", "axis": {"format": "%"}, "title": title}
    points = funnel.points.with_columns(
        pl.when(pl.col("is_flagged"))
        .then(pl.lit("flagged"))
        .when(pl.col("outside_outer"))
        .then(pl.lit("outside 99.8% limits"))
        .otherwise(pl.lit("within peers"))
        .alias("status")
    )
    layers: list[dict[str, Any]] = []
    if not funnel.curves.is_empty():
        curves = funnel.curves.with_columns(pl.col("limit").replace_strict(FUNNEL_LIMITS).alias("band"))
        layers.append(
            {
                "data": {"values": _values(curves)},
                "mark": {"type": "line", "color": "#888", "strokeWidth": 1},
                "encoding": {
                    "x": x,
                    "y": y,
                    "detail": {"field": "limit"},
                    "strokeDash": {
                        "field": "band",
                        "type": "nominal",
                        "title": None,
                        "scale": {"domain": ["95% limits", "99.8% limits"], "range": [[4, 3], [1, 0]]},
                    },
                },
            }
        )
    if funnel.peer_rate is not None:
        layers.append(
            {
                "data": {"values": [{"rate": funnel.peer_rate}]},
                "mark": {"type": "rule", "color": "#4c78a8", "strokeWidth": 1.5},
                "encoding": {"y": y},
            }
        )
    layers += [
        {
            "data": {"values": _values(points)},
            "mark": {"type": "circle", "size": 50, "opacity": 0.9},
            "encoding": {
                "x": x,
                "y": y,
                "color": {
                    "field": "status",
                    "type": "nominal",
                    "title": None,
                    "scale": {
                        "domain": ["within peers", "outside 99.8% limits", "flagged"],
                        "range": ["#4c78a8", "#f58518", "#e45756"],
                    },
                },
            },
        },
        {
            "data": {"values": _values(points.filter(pl.col("status") != "within peers"))},
            "mark": {"type": "text", "align": "left", "dx": 6, "dy": -6, "fontSize": 10, "color": "#222"},
            "encoding": {"x": x, "y": y, "text": {"field": "agent_id"}},
        },
    ]
    return {
        "title": f"{title}: agents against the centre",
        "width": 520,
        "height": 300,
        "padding": {"left": 5, "top": 5, "right": 30, "bottom": 5},  # room for a label at the edge
        "layer": layers,
    }


TREND_COLOURS = ("#4c78a8", "#f58518", "#e45756", "#54a24b", "#b279a2", "#9d755d")
_W, _H, _LEFT, _TOP, _PLOT_W, _PLOT_H = 760, 230, 44, 30, 680, 160


# One agent's trend: (metric label, [(day, rate, low volume), ...] by day), metrics in order.
TrendSeries = list[tuple[str, list[tuple[date, float, bool]]]]


def trend_series(trend_long: pl.DataFrame, by: str) -> dict[Any, TrendSeries]:
    """Every agent's (`by`'s) trend series from one long frame (`views.trend_long` with `by` kept),
    in one pass: a per-agent filter of each metric cost ~20 Polars calls an agent, seconds for
    a centre's 1,000 pages. Days with no rate are left out; metrics keep the frame's order."""
    if trend_long.is_empty():
        return {}
    data = trend_long.filter(pl.col("rate").is_not_null())
    order = {m: i for i, m in enumerate(data.get_column("metric").unique(maintain_order=True).to_list())}
    columns = [by, "metric", "audit_date", "rate", "low_volume"]
    grouped: dict[Any, dict[str, list[tuple[date, float, bool]]]] = {}
    for key, metric, day, rate, low in data.select(columns).sort(by, "audit_date").iter_rows():
        grouped.setdefault(key, {}).setdefault(metric, []).append((day, rate, bool(low)))
    return {key: sorted(metrics.items(), key=lambda item: order[item[0]]) for key, metrics in grouped.items()}


def small_trend_svg(series: TrendSeries, audit_date: date, days: int, title: str) -> str | None:
    """An agent's daily rates as a plain inline SVG (lines, points hollow when low volume).

    Drawn by hand, not with vl-convert: a centre has hundreds of agents and vl-convert takes
    about a second per chart, which a page per agent per audit day cannot afford."""
    if not series:
        return None
    first = audit_date - timedelta(days=days - 1)

    def x(day: date) -> float:
        return _LEFT + _PLOT_W * (day - first).days / max(1, days - 1)

    def y(rate: float) -> float:
        return _TOP + _PLOT_H * (1 - rate)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img">']
    parts.append(f'<text x="{_LEFT}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>')
    for rate in (0.0, 0.5, 1.0):
        parts.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + _PLOT_W}" y1="{y(rate):.1f}" y2="{y(rate):.1f}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 4}" y="{y(rate) + 4:.1f}" font-size="10" text-anchor="end">{rate:.0%}</text>'
        )
    for day, anchor in ((first, "start"), (audit_date, "end")):
        label = f'<text x="{x(day):.1f}" y="{_TOP + _PLOT_H + 14}" font-size="10" text-anchor="{anchor}">'
        parts.append(f"{label}{day.isoformat()}</text>")
    for i, (metric, points) in enumerate(series):
        parts += _trend_series([(x(d), y(r), low) for d, r, low in points], i, metric)
    parts.append("</svg>")
    return "".join(parts)


def _trend_series(points: list[tuple[float, float, bool]], index: int, metric: str) -> list[str]:
    """One metric's line, its points (hollow: low volume) and its legend entry."""
    colour = TREND_COLOURS[index % len(TREND_COLOURS)]
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
    out = [f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>']
    for px, py, low in points:
        fill = "white" if low else colour
        out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{fill}" stroke="{colour}"/>')
    lx = _LEFT + 170 * index
    out.append(f'<rect x="{lx}" y="{_H - 14}" width="10" height="10" fill="{colour}"/>')
    out.append(f'<text x="{lx + 14}" y="{_H - 5}" font-size="10">{escape(metric)}</text>')
    return out
