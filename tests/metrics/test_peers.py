"""Peers (docs/metrics.md, Peers): every rate against the centre and the team, as a funnel plot.

Expected values are worked out by hand in the comments; the normal tail uses math.erfc, not scipy.
"""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from configs.policy import load_policy
from transforms.peers import (
    ABOVE,
    BELOW,
    CENTRE,
    EVIDENCE_SCHEMA,
    LIFECYCLE_SCHEMA,
    PEER_COMPARISON_DESCRIPTIONS,
    PEER_COMPARISON_SCHEMA,
    PEER_FLAG_DESCRIPTIONS,
    PEER_FLAGS_SCHEMA,
    RATES_SCHEMA,
    TEAM,
    flag_lifecycle,
    normal_quantile,
    peer_comparison,
    peer_flags,
    winsorised_phi,
)
from transforms.stats import Z_95

START, END = date(2026, 3, 1), date(2026, 3, 28)
POLICY = load_policy().peers  # the project default (docs/policy.md)
Z_998 = 3.090232306167813  # two-sided 99.8% normal quantile
NO_EVIDENCE = pl.LazyFrame(schema=EVIDENCE_SCHEMA)


def rates(rows: list[tuple[str, str | None, int, int]], metric: str = "follow_up") -> pl.LazyFrame:
    """(agent_id, team_id, numerator, denominator) rows of one metric."""
    return pl.LazyFrame(
        [(agent, team, metric, num, den) for agent, team, num, den in rows],
        schema=RATES_SCHEMA,
        orient="row",
    )


def compare(frame: pl.LazyFrame, evidence: pl.LazyFrame = NO_EVIDENCE, **policy: Any) -> pl.DataFrame:
    return peer_comparison(frame, evidence, POLICY.model_copy(update=policy), START, END).collect()


def two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def row(out: pl.DataFrame, agent: str, comparison: str = CENTRE) -> dict[str, Any]:
    return out.filter((pl.col("agent_id") == agent) & (pl.col("comparison") == comparison)).row(0, named=True)


# --- hand-computed funnels -----------------------------------------------------------------------

# Ten agents with 100 contacts each, no team (centre only). Numerators 18..25 and one outlier, 8.
# p0 = 200 / 1000 = 0.2; sqrt(p0 (1 - p0) / 100) = 0.04, so z = (y - 20) / 4:
#   y:  8     18    19     20  20  21    22   23    24   25
#   z: -3.0  -0.5  -0.25   0   0   0.25  0.5  0.75  1.0  1.25
# Winsorised at 10%: k = ceil(0.1 * 10) = 1 at each tail: -3.0 -> -0.5 and 1.25 -> 1.0.
#   sum of squares = 0.25 + 0.25 + 0.0625 + 0 + 0 + 0.0625 + 0.25 + 0.5625 + 1 + 1 = 3.4375
#   phi = 3.4375 / 10 = 0.34375 <= 1: not inflated, z is unchanged.
# The outlier: p = 2 P(Z > 3) = 0.0026998; the smallest p of ten, so q = 10 p / 1 = 0.026998 <= 0.05.
# Next smallest p is the 25 (z = 1.25, p = 0.2113): q >= 0.2113 (not flagged).
# Limits at n = 100: 0.2 -/+ 1.959964 x 0.04 = [0.1216014, 0.2783986] (95%),
#                    0.2 -/+ 3.090232 x 0.04 = [0.0763907, 0.3236093] (99.8%).
# The outlier's 0.08 is outside the 95% funnel and inside the 99.8% one: the flag is the q-value's.
NUMERATORS = {
    "a08": 8,
    "a18": 18,
    "a19": 19,
    "a20": 20,
    "b20": 20,
    "a21": 21,
    "a22": 22,
    "a23": 23,
    "a24": 24,
    "a25": 25,
}
OUTLIER_CENTRE = [(agent, None, y, 100) for agent, y in NUMERATORS.items()]


def test_hand_computed_funnel_flags_the_outlier_below_peers() -> None:
    out = compare(rates(OUTLIER_CENTRE))
    assert out.height == 10 and set(out["comparison"]) == {CENTRE}  # no team: centre only
    outlier = row(out, "a08")
    assert outlier["peer_rate"] == pytest.approx(0.2, abs=1e-12)
    assert outlier["peer_agents"] == 10
    assert outlier["z_unadjusted"] == pytest.approx(-3.0, abs=1e-9)
    assert outlier["overdispersion_estimate"] == pytest.approx(0.34375, abs=1e-9)
    assert outlier["overdispersion"] == 1.0
    assert outlier["z"] == pytest.approx(-3.0, abs=1e-9)
    assert outlier["p_value"] == pytest.approx(two_sided_p(3.0), abs=1e-12)
    assert outlier["q_value"] == pytest.approx(10 * two_sided_p(3.0), abs=1e-12)
    assert (outlier["is_flagged"], outlier["flag_type"]) == (True, BELOW)
    assert outlier["inner_limit_low"] == pytest.approx(0.2 - Z_95 * 0.04, abs=1e-9)
    assert outlier["inner_limit_high"] == pytest.approx(0.2 + Z_95 * 0.04, abs=1e-9)
    assert outlier["outer_limit_low"] == pytest.approx(0.2 - Z_998 * 0.04, abs=1e-9)
    assert outlier["outer_limit_high"] == pytest.approx(0.2 + Z_998 * 0.04, abs=1e-9)
    assert outlier["outer_limit_low"] < outlier["rate"] < outlier["inner_limit_low"]
    assert row(out, "a25")["z"] == pytest.approx(1.25, abs=1e-9)
    assert out.filter(pl.col("is_flagged"))["agent_id"].to_list() == ["a08"]
    assert out.filter(~pl.col("is_flagged"))["flag_type"].null_count() == 9


# Six agents with 100 contacts each: numerators 8, 12, 16, 24, 28, 32. p0 = 120 / 600 = 0.2, so
# z = (y - 20) / 4 = -3, -2, -1, 1, 2, 3. Winsorised (k = ceil(0.6) = 1): -2, -2, -1, 1, 2, 2;
# phi = (4 + 4 + 1 + 1 + 4 + 4) / 6 = 3.0 > 1: inflated. Adjusted z = z / sqrt(3): the 8 is at
# -1.7320508, p = 0.0832645, not flagged. 95% limits: 0.2 -/+ 1.959964 sqrt(3 x 0.0016)
# = 0.2 -/+ 0.1357907 = [0.0642093, 0.3357907], which hold the 0.08.
# Without the inflation the 8 and the 32 would be flagged: p = 0.0026998 each, q = 6 p / 2 = 0.0081.
SPREAD = [(f"a{y:02d}", None, y, 100) for y in (8, 12, 16, 24, 28, 32)]


def test_overdispersion_widens_the_limits_and_spares_agents_inside_them() -> None:
    out = compare(rates(SPREAD))
    low = row(out, "a08")
    assert low["overdispersion_estimate"] == pytest.approx(3.0, abs=1e-9)
    assert low["overdispersion"] == pytest.approx(3.0, abs=1e-9)
    assert low["z_unadjusted"] == pytest.approx(-3.0, abs=1e-9)
    assert low["z"] == pytest.approx(-math.sqrt(3), abs=1e-9)
    assert low["p_value"] == pytest.approx(two_sided_p(math.sqrt(3)), abs=1e-12)
    half_95 = Z_95 * math.sqrt(3 * 0.0016)
    assert low["inner_limit_low"] == pytest.approx(0.2 - half_95, abs=1e-9)
    assert low["inner_limit_high"] == pytest.approx(0.2 + half_95, abs=1e-9)
    assert low["inner_limit_low"] < low["rate"]
    assert not out["is_flagged"].any()
    assert 6 * two_sided_p(3.0) / 2 <= POLICY.fdr  # what the un-inflated test would have flagged


@pytest.mark.parametrize("numerator", [0, 100])
def test_a_pooled_rate_of_0_or_1_has_no_variance_and_flags_nothing(numerator: int) -> None:
    out = compare(rates([(f"a{i}", "T1", numerator, 100) for i in range(6)]))
    assert out.height == 12  # centre and team rows are there for the funnel
    p0 = numerator / 100
    assert out["peer_rate"].to_list() == [p0] * 12
    for column in ("inner_limit_low", "inner_limit_high", "outer_limit_low", "outer_limit_high"):
        assert out[column].to_list() == [p0] * 12
    for column in ("z_unadjusted", "z", "p_value", "q_value", "overdispersion_estimate"):
        assert out[column].null_count() == 12, column
    assert out["overdispersion"].to_list() == [1.0] * 12
    assert not out["is_flagged"].any()


# Two teams of five, 100 contacts each. Team L: every agent 20. Team H: four agents at 50, h05 at 20.
# Centre: p0 = (100 + 200 + 20) / 1000 = 0.32; p0 (1 - p0) / 100 = 0.002176.
#   z^2 = 0.12^2 / 0.002176 = 6.6176 (six agents at 0.2), 0.18^2 / 0.002176 = 14.8897 (four at 0.5);
#   winsorising (k = 1) changes nothing (the extremes equal their neighbours);
#   phi = (6 x 0.0144 + 4 x 0.0324) / (10 x 0.002176) = 9.9264706; h05: z^2 / phi = 0.0144 x 10 / 0.216
#   = 2/3, z = -0.8164966: ordinary for the centre.
# Team H: p0 = 220 / 500 = 0.44; p0 (1 - p0) / 100 = 0.002464; z = 0.06 / 0.0496387 = 1.2087344
#   (four), h05: -0.24 / 0.0496387 = -4.8349378. k = ceil(0.5) = 1 pulls h05 in to 1.2087344:
#   phi = 0.0036 / 0.002464 = 1.4610390. h05: z^2 / phi = 0.0576 / 0.0036 = 16, z = -4 exactly;
#   p = 6.334e-5, q = 5 p = 3.167e-4: below peers in the team. The others: z = 1, p = 0.3173.
# Team L: all at the team rate, z = 0, phi = 0 -> 1, nothing flagged.
TEAMS = [(f"l{i:02d}", "L", 20, 100) for i in range(1, 6)] + [
    ("h01", "H", 50, 100),
    ("h02", "H", 50, 100),
    ("h03", "H", 50, 100),
    ("h04", "H", 50, 100),
    ("h05", "H", 20, 100),
]


def test_team_comparison_finds_an_agent_out_of_line_with_their_team_only() -> None:
    out = compare(rates(TEAMS))
    assert out.height == 20
    centre = row(out, "h05")
    assert centre["peer_rate"] == pytest.approx(0.32, abs=1e-12)
    assert centre["overdispersion"] == pytest.approx(0.216 / 0.02176, abs=1e-9)
    assert centre["z"] == pytest.approx(-math.sqrt(2 / 3), abs=1e-9)
    assert not centre["is_flagged"]
    team = row(out, "h05", TEAM)
    assert (team["team_id"], team["peer_agents"]) == ("H", 5)
    assert team["peer_rate"] == pytest.approx(0.44, abs=1e-12)
    assert team["z_unadjusted"] == pytest.approx(-0.24 / math.sqrt(0.002464), abs=1e-9)
    assert team["overdispersion_estimate"] == pytest.approx(0.0036 / 0.002464, abs=1e-9)
    assert team["z"] == pytest.approx(-4.0, abs=1e-9)
    assert team["p_value"] == pytest.approx(two_sided_p(4.0), abs=1e-15)
    assert team["q_value"] == pytest.approx(5 * two_sided_p(4.0), abs=1e-15)
    assert (team["is_flagged"], team["flag_type"]) == (True, BELOW)
    assert row(out, "h01", TEAM)["z"] == pytest.approx(1.0, abs=1e-9)
    assert row(out, "l01", TEAM)["overdispersion"] == 1.0
    assert out.filter(pl.col("is_flagged")).select("comparison", "agent_id").rows() == [(TEAM, "h05")]


def test_one_extreme_teammate_does_not_flag_the_rest_of_the_team() -> None:
    """The planted agent drags their team's pooled rate down, so each teammate sits above it by the
    same amount; the team's own phi sees that shift, the teammates are not flagged above peers."""
    team = [(f"t{i}", "T", 90, 100) for i in range(4)] + [("never", "T", 0, 100)]
    others = [(f"o{i}", "O", 90 + (i % 3) - 1, 100) for i in range(15)]
    out = compare(rates(team + others))
    flagged = out.filter(pl.col("is_flagged")).select("comparison", "agent_id", "flag_type").rows()
    assert (CENTRE, "never", BELOW) in flagged
    assert [f for f in flagged if f[1] != "never"] == []


def test_untested_agents_and_small_groups_have_no_row_and_do_not_move_the_pool() -> None:
    small = [("tiny", "T1", 0, 19)]  # under min_denominator (20): not tested, not pooled
    team_of_four = [(f"b{i}", "T2", 10, 50) for i in range(4)]  # a team under min_agents (5)
    team_of_five = [(f"c{i}", "T3", 25, 50) for i in range(5)]
    out = compare(rates(small + team_of_four + team_of_five))
    assert "tiny" not in out["agent_id"].to_list()
    assert row(out, "b0")["peer_rate"] == pytest.approx((40 + 125) / 450, abs=1e-12)
    assert out.filter(pl.col("comparison") == TEAM)["team_id"].unique().to_list() == ["T3"]
    assert compare(rates(team_of_four)).height == 0  # the centre itself is under min_agents


def test_evidence_is_listed_on_flagged_rows_sorted_distinct_and_capped() -> None:
    # a08 is below peers: its evidence is the contacts not counted in its numerator (c*), not
    # the one that was (c0).
    evidence = pl.LazyFrame(
        {
            "agent_id": ["a08"] * 7 + ["a25", "a08"],
            "metric": ["follow_up"] * 8 + ["reopen"],
            "contact_id": ["c5", "c1", "c4", "c2", "c3", "c1", "c0", "c9", "r1"],
            "counted": [False] * 6 + [True, False, False],
        }
    )
    out = compare(rates(OUTLIER_CENTRE), evidence, max_evidence_ids=3)
    flagged = row(out, "a08")
    assert flagged["evidence_ids"] == ["c1", "c2", "c3"]  # sorted, the duplicate c1 once, capped at 3
    assert flagged["evidence_count"] == 5  # every distinct contact, not only those listed
    unflagged = out.filter(~pl.col("is_flagged")).select("evidence_ids", "evidence_count")
    assert unflagged.null_count().row(0) == (9, 9)
    no_rows = compare(rates(OUTLIER_CENTRE), NO_EVIDENCE)
    assert (row(no_rows, "a08")["evidence_ids"], row(no_rows, "a08")["evidence_count"]) == ([], 0)


def test_peer_flags_keep_the_flagged_rows_in_the_flags_schema() -> None:
    comparison = peer_comparison(rates([*TEAMS, ("x", None, 0, 100)]), NO_EVIDENCE, POLICY, START, END)
    assert comparison.collect_schema() == PEER_COMPARISON_SCHEMA
    flags = peer_flags(comparison).collect()
    assert flags.schema == PEER_FLAGS_SCHEMA
    assert flags.height == comparison.filter(pl.col("is_flagged")).collect().height > 0
    assert set(flags["flag_type"]) <= {BELOW, ABOVE}
    assert flags["window_start"].unique().to_list() == [START]
    assert flags["window_end"].unique().to_list() == [END]
    assert flags["fdr"].unique().to_list() == [POLICY.fdr]
    assert flags.select("inner_coverage", "outer_coverage").unique().rows() == [POLICY.limits]


def test_every_column_is_described_for_the_catalogue() -> None:
    assert list(PEER_FLAG_DESCRIPTIONS) == PEER_FLAGS_SCHEMA.names()
    assert list(PEER_COMPARISON_DESCRIPTIONS) == PEER_COMPARISON_SCHEMA.names()
    assert all(text.strip() for text in PEER_COMPARISON_DESCRIPTIONS.values())


def test_the_95_percent_quantile_is_the_one_the_wilson_intervals_use() -> None:
    assert normal_quantile(0.95) == pytest.approx(Z_95, abs=1e-12)
    assert normal_quantile(0.998) == pytest.approx(Z_998, abs=1e-12)


@pytest.mark.parametrize(
    ("z", "fraction", "phi"),
    [
        ([-3.0, -2, -1, 1, 2, 3], 0.1, 3.0),  # k = 1
        ([-3.0, -2, -1, 1, 2, 3], 0.0, 28 / 6),  # no winsorising: (9 + 4 + 1 + 1 + 4 + 9) / 6
        ([5.0, -5.0], 0.4, 25.0),  # k never passes the middle (here 0)
        ([0.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.1, 0.0),  # the 10 pulled in to 0
    ],
)
def test_winsorised_phi(z: list[float], fraction: float, phi: float) -> None:
    assert winsorised_phi(z, fraction) == pytest.approx(phi, abs=1e-12)


def test_impossible_rates_and_windows_are_refused() -> None:
    with pytest.raises(ValueError, match=r"outside 0\.\.denominator"):
        compare(rates([(f"a{i}", None, 30, 25) for i in range(5)]))
    with pytest.raises(ValueError, match="more than one follow_up rate"):
        compare(rates([("a", None, 5, 25)] * 5))
    with pytest.raises(ValueError, match="after window_end"):
        peer_comparison(rates(SPREAD), NO_EVIDENCE, POLICY, END, START)


# --- properties ----------------------------------------------------------------------------------


@st.composite
def centres(draw: st.DrawFn) -> list[tuple[str, str | None, int, int]]:
    """6 to 30 agents in up to three teams, denominators 20..400, any numerators."""
    size = draw(st.integers(6, 30))
    rows = []
    for i in range(size):
        denominator = draw(st.integers(20, 400))
        numerator = draw(st.integers(0, denominator))
        rows.append((f"a{i:02d}", draw(st.sampled_from(["T1", "T2", "T3", None])), numerator, denominator))
    return rows


@settings(max_examples=40, deadline=None)
@given(agents=centres())
def test_limits_hold_the_pooled_rate_and_narrow_as_the_denominator_grows(agents: list) -> None:
    out = compare(rates(agents))
    for r in out.iter_rows(named=True):
        assert 0 <= r["outer_limit_low"] <= r["inner_limit_low"] <= r["peer_rate"]
        assert r["peer_rate"] <= r["inner_limit_high"] <= r["outer_limit_high"] <= 1
        assert r["overdispersion"] >= 1.0
    width = (pl.col("inner_limit_high") - pl.col("inner_limit_low")).alias("width")
    for _, group in out.with_columns(width).group_by("comparison", "team_id"):
        ordered = group.sort("denominator", descending=True)["width"].to_list()
        assert all(a <= b + 1e-12 for a, b in itertools.pairwise(ordered))


@settings(max_examples=40, deadline=None)
@given(agents=centres())
def test_q_is_at_least_p_and_a_flag_lies_outside_the_inner_funnel(agents: list) -> None:
    out = compare(rates(agents)).filter(pl.col("p_value").is_not_null())
    assert (out["q_value"] >= out["p_value"] - 1e-15).all()
    flagged = out.filter(pl.col("is_flagged"))
    outside = (pl.col("rate") < pl.col("inner_limit_low")) | (pl.col("rate") > pl.col("inner_limit_high"))
    assert flagged.filter(~outside).height == 0  # fdr 0.05 <= 1 - 0.95: q <= fdr means p <= 0.05


@settings(max_examples=30, deadline=None)
@given(
    denominators=st.lists(st.integers(1, 40), min_size=5, max_size=25),
    share=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]),
)
def test_all_agents_at_the_pooled_rate_flags_nobody(denominators: list[int], share: float) -> None:
    agents = [(f"a{i}", "T", round(share * 20 * n), 20 * n) for i, n in enumerate(denominators)]
    out = compare(rates(agents))
    assert not out["is_flagged"].any()
    assert all(z is None or abs(z) < 1e-9 for z in out["z"].to_list())


@settings(max_examples=30, deadline=None)
@given(agents=centres(), seed=st.randoms(use_true_random=False))
def test_the_answer_does_not_depend_on_the_order_of_the_rates(agents: list, seed: Any) -> None:
    shuffled = list(agents)
    seed.shuffle(shuffled)
    assert_frame_equal(compare(rates(agents)), compare(rates(shuffled)))


# --- simulation ----------------------------------------------------------------------------------


def _binomial_centre(rng: np.random.Generator, agents: int, rate: float) -> list[tuple[str, str, int, int]]:
    """`agents` agents in teams of ten, each with a Poisson(200) denominator and a common rate."""
    denominators = rng.poisson(200, size=agents)
    numerators = rng.binomial(denominators, rate)
    return [
        (f"a{i:03d}", f"T{i // 10}", int(y), int(n))
        for i, (y, n) in enumerate(zip(numerators, denominators, strict=True))
    ]


def test_a_common_rate_flags_fewer_agents_than_the_false_discovery_rate() -> None:
    """200 agents at one rate (so every flag is false), 40 replicates, centre and team comparisons."""
    rng = np.random.default_rng(20260328)
    flagged = tested = 0
    for _ in range(40):
        out = compare(rates(_binomial_centre(rng, 200, 0.3)))
        flagged, tested = flagged + out["is_flagged"].sum(), tested + out.height
    share = flagged / tested
    print(f"false-flag share: {flagged}/{tested} = {share:.5f} (fdr {POLICY.fdr})")
    assert share <= POLICY.fdr


def test_an_agent_at_half_the_rate_is_flagged_below_peers() -> None:
    """30 of 200 against a centre of 200 agents at 0.3: z is about -4.6, beyond BH's bar for 200
    tests (|z| >= 3.66 for the smallest p). An agent who *draws* at half the rate lands there less
    often (a binomial(200, 0.15) reaches 39 now and then): that power is measured and printed."""
    rng = np.random.default_rng(7)
    drawn_hits = 0
    for _ in range(20):
        centre = _binomial_centre(rng, 200, 0.3)
        half = row(compare(rates([("half", "T0", 30, 200), *centre[1:]])), "half")
        assert (half["is_flagged"], half["flag_type"]) == (True, BELOW)
        drawn = row(compare(rates([("half", "T0", int(rng.binomial(200, 0.15)), 200), *centre[1:]])), "half")
        drawn_hits += drawn["flag_type"] == BELOW
    print(f"agent drawn at half the rate, n = 200, flagged below peers: {drawn_hits}/20")
    assert drawn_hits >= 12


def test_planted_agents_in_a_small_centre_are_flagged_and_nobody_else() -> None:
    """The sample centre's shape (20 agents in 4 teams of 5): one agent never follows up, one never
    escalates (missed_escalation 1.0 on a few dozen signals); every other agent at the common rate.
    A planted agent under min_denominator that window is not tested (so not flagged): counted."""
    rng = np.random.default_rng(42)
    ordinary_flags = ordinary = untested = 0
    plants = (("follow_up", 0.9, 250, "a03", 0.0, BELOW), ("missed_escalation", 0.1, 34, "a11", 1.0, ABOVE))
    for _ in range(30):
        frames = []
        for metric, rate, volume, agent, planted_rate, _side in plants:
            n = rng.poisson(volume, size=20)
            y = rng.binomial(n, [planted_rate if f"a{i:02d}" == agent else rate for i in range(20)])
            frames.append(
                rates([(f"a{i:02d}", f"T{i % 4}", int(y[i]), int(n[i])) for i in range(20)], metric)
            )
        out = compare(pl.concat(frames))
        for metric, _rate, _volume, agent, _planted_rate, side in plants:
            hit = out.filter(
                (pl.col("agent_id") == agent)
                & (pl.col("metric") == metric)
                & (pl.col("comparison") == CENTRE)
            )
            untested += hit.height == 0
            assert hit["flag_type"].to_list() in ([side], [])
        is_planted = pl.any_horizontal(
            (pl.col("agent_id") == agent) & (pl.col("metric") == metric)
            for metric, _, _, agent, _, _ in plants
        )
        rest = out.filter(~is_planted)
        ordinary_flags, ordinary = ordinary_flags + rest["is_flagged"].sum(), ordinary + rest.height
    print(f"ordinary agents flagged: {ordinary_flags}/{ordinary}; planted not tested: {untested}/60")
    assert untested <= 3
    assert ordinary_flags / ordinary <= POLICY.fdr


# --- flag lifecycle -------------------------------------------------------------------------------


def test_lifecycle_runs_over_published_windows_and_clear_the_day_after() -> None:
    day = [date(2026, 3, 1) + timedelta(days=i) for i in range(7)]
    published = [day[0], day[1], day[2], day[4], day[5], day[6]]  # day[3] has no window
    rows = pl.DataFrame(
        {
            "metric": ["follow_up"] * 6 + ["reopen"] * 2,
            "comparison": [CENTRE] * 8,
            "agent_id": ["a1"] * 6 + ["a2"] * 2,
            "period_end": [day[0], day[1], day[2], day[4], day[5], day[6], day[0], day[2]],
            "is_flagged": [True, True, False, True, True, True, True, True],
            "flag_type": [BELOW, BELOW, None, BELOW, ABOVE, ABOVE, ABOVE, ABOVE],
        }
    )
    out = flag_lifecycle(rows, published).select("agent_id", "period_end", *LIFECYCLE_SCHEMA.names())
    assert out.rows() == [
        ("a1", day[0], "new", day[0], 1),
        ("a1", day[1], "ongoing", day[0], 2),
        ("a1", day[2], "cleared", day[0], 2),  # the day after it stops: the run that ended
        ("a1", day[4], "new", day[4], 1),  # the window before (day[2]) was not flagged
        ("a1", day[5], "new", day[5], 1),  # the other side is a new flag
        ("a1", day[6], "ongoing", day[5], 2),
        ("a2", day[0], "new", day[0], 1),
        ("a2", day[2], "new", day[2], 1),  # not tested on day[1]: the run is broken
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([None, BELOW, ABOVE]), min_size=1, max_size=15))
def test_lifecycle_counts_the_unbroken_run_on_one_side(sides: list[str | None]) -> None:
    ends = [date(2026, 1, 1) + timedelta(days=i) for i in range(len(sides))]
    rows = pl.DataFrame(
        {
            "metric": ["m"] * len(sides),
            "comparison": [CENTRE] * len(sides),
            "agent_id": ["a"] * len(sides),
            "period_end": ends,
            "is_flagged": [s is not None for s in sides],
            "flag_type": sides,
        },
        schema_overrides={"flag_type": pl.String()},
    )
    out = flag_lifecycle(rows, ends).sort("period_end")
    run = 0
    for i, side in enumerate(sides):
        row = out.row(i, named=True)
        previous = sides[i - 1] if i else None
        if side is None:
            assert row["status"] == ("cleared" if previous is not None else None)
            run = 0
            continue
        run = run + 1 if previous == side else 1
        assert row["consecutive_days"] == run
        assert row["status"] == ("ongoing" if run > 1 else "new")
        assert row["first_flagged_on"] == ends[i - run + 1]
