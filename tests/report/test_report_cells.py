"""The pieces the report builds in Python for every agent page (a 1,000-agent centre's day has
~340,000 rate cells and 1,000 trend charts): the rate cell's HTML, the trend series, each
agent's team. Values worked by hand."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from report import charts, views
from report.pages import _teams
from report.render import cell_html, rate_cell, row_tds
from report.tables import AuditDay

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def test_a_rate_cell_carries_its_rate_fraction_interval_and_sort_values() -> None:
    row = {
        "follow_up_numerator": 3,
        "follow_up_denominator": 4,
        "follow_up_rate": 0.75,
        "follow_up_ci_low": 0.3,
        "follow_up_ci_high": 0.95,
        "is_follow_up_low_volume": True,
    }
    assert row_tds(row, ["follow_up"], 20) == (
        '<td class="rate low-volume" data-metric="follow_up" data-sort="0.75" data-value="0.75"'
        ' data-numerator="3" data-denominator="4" data-low-volume="true"'
        ' title="Only 4 contacts (fewer than 20): too few to judge, not a verdict">\n'
        '<span class="r">75.0%</span> <span class="frac">3/4</span>'
        '<br><span class="ci">[30.0% – 95.0%]</span><span class="lv">low volume</span></td>\n'
    )


def test_a_cell_without_a_rate_is_a_dash_and_not_marked_low_volume() -> None:
    row = {"reopen_numerator": 0, "reopen_denominator": 0, "reopen_rate": float("nan")}
    assert rate_cell(row, "reopen").rate is None  # NaN is not a rate
    assert row_tds(row | {"is_reopen_low_volume": True}, ["reopen"], 20) == (
        '<td class="rate" data-metric="reopen" data-sort="" data-value="" data-numerator="0"'
        ' data-denominator="0" data-low-volume="true">\n<span class="na">–</span></td>\n'
    )


def test_a_metric_name_is_escaped_and_a_row_of_cells_is_one_string_in_metric_order() -> None:
    html = row_tds({"a<b_rate": 0.02, "a<b_numerator": 1, "a<b_denominator": 50}, ["fcr", "a<b"], 20)
    assert html.index('data-metric="fcr"') < html.index('data-metric="a&lt;b"')
    assert html.count("<td ") == 2 and "a<b" not in html


def test_trend_series_keep_each_agents_days_in_order_and_metrics_in_frame_order() -> None:
    long = pl.DataFrame(
        {
            "agent_id": ["a1", "a1", "a2", "a1", "a1", "a2"],
            "audit_date": [D2, D1, D1, D3, D1, D2],
            "metric": ["Follow-up", "Follow-up", "Follow-up", "Reopen", "Reopen", "Reopen"],
            "rate": [0.5, 0.25, None, 1.0, 0.0, 0.4],
            "low_volume": [False, True, False, True, False, None],
        }
    )
    series = charts.trend_series(long, "agent_id")
    assert series == {
        "a1": [
            ("Follow-up", [(D1, 0.25, True), (D2, 0.5, False)]),
            ("Reopen", [(D1, 0.0, False), (D3, 1.0, True)]),
        ],
        "a2": [("Reopen", [(D2, 0.4, False)])],  # the day without a rate is left out
    }


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a1", "a2", "a3"]), st.integers(1, 28), st.sampled_from(["x", "y"])),
        unique=True,
        max_size=40,
    )
)
def test_trend_series_give_every_agent_the_points_a_filter_of_their_own_rows_gives(
    rows: list[tuple[str, int, str]],
) -> None:
    """One pass over all agents equals filtering each agent's and each metric's rows (what the
    pages did per agent before)."""
    long = pl.DataFrame(
        {
            "agent_id": [a for a, _, _ in rows],
            "audit_date": [date(2026, 10, d) for _, d, _ in rows],
            "metric": [m for _, _, m in rows],
            "rate": [d / 28 for _, d, _ in rows],
            "low_volume": [d % 2 == 0 for _, d, _ in rows],
        },
        schema={
            "agent_id": pl.String,
            "audit_date": pl.Date,
            "metric": pl.String,
            "rate": pl.Float64,
            "low_volume": pl.Boolean,
        },
    )
    series = charts.trend_series(long, "agent_id")
    order = long.get_column("metric").unique(maintain_order=True).to_list()
    for agent in {a for a, _, _ in rows}:
        own = long.filter(pl.col("agent_id") == agent)
        expected = [
            (
                m,
                [
                    (d, r, bool(low))
                    for d, r, low in own.filter(pl.col("metric") == m)
                    .sort("audit_date")
                    .select("audit_date", "rate", "low_volume")
                    .iter_rows()
                ],
            )
            for m in order
            if m in own.get_column("metric").to_list()
        ]
        assert series[agent] == expected


def test_an_agents_team_is_the_days_scorecard_else_the_trend_else_the_peer_comparison() -> None:
    scorecard = pl.DataFrame({"agent_id": ["a1", "a2"], "team_id": ["t1", None]})
    trend = pl.DataFrame({"agent_id": ["a2", "a2", "a3"], "team_id": ["t2", "t3", None]})
    peers = pl.DataFrame({"agent_id": ["a1", "a3", "a3"], "team_id": ["t9", "t4", "t5"]})
    day = AuditDay(
        D3, scorecard, None, None, None, None, None, None, None, agent_trend=trend, peer_comparison=peers
    )
    assert _teams(day) == {"a1": "t1", "a2": "t3", "a3": "t5"}  # the last team in each frame


def test_trend_long_keeps_the_agent_column_it_is_asked_to() -> None:
    trend = pl.DataFrame(
        {
            "agent_id": ["a1"],
            "audit_date": [D1],
            "follow_up_rate": [0.5],
            "follow_up_numerator": [1],
            "follow_up_denominator": [2],
            "is_follow_up_low_volume": [True],
        }
    )
    long = views.trend_long(trend, ("follow_up",), keep=("agent_id",))
    assert long.columns[:2] == ["agent_id", "audit_date"]
    assert long.row(0)[:2] == ("a1", D1)


_VALUES = st.one_of(
    st.none(),
    st.integers(-3, 500),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.booleans(),
    st.just("7"),
)


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "follow_up_numerator": _VALUES,
            "follow_up_denominator": _VALUES,
            "follow_up_rate": _VALUES,
            "follow_up_ci_low": _VALUES,
            "follow_up_ci_high": _VALUES,
            "is_follow_up_low_volume": st.one_of(st.none(), st.booleans()),
        }
    ),
    st.integers(1, 50),
)
def test_a_cell_shows_what_rate_cell_reads_from_the_row(row: dict[str, Any], min_volume: int) -> None:
    """The HTML cell (`row_tds`, every page) and the terminal's `rate_cell` read a row alike,
    whatever it holds: NaN, infinities, booleans and text are not numbers."""
    cell = rate_cell(row, "follow_up")
    for value in (cell.numerator, cell.denominator, cell.rate, cell.ci_low, cell.ci_high):
        assert value is None or (type(value) in (int, float) and math.isfinite(value))
    expected = cell_html(
        "follow_up",
        cell.numerator,
        cell.denominator,
        cell.rate,
        cell.ci_low,
        cell.ci_high,
        cell.low_volume,
        min_volume,
    )
    assert row_tds(row, ["follow_up"], min_volume) == expected
    assert f'data-sort="{cell.sort_value}"' in expected
