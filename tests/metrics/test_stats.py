"""Wilson intervals and rate columns (transforms/stats.py)."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from transforms.stats import Z_95, rate_columns, safe_rate, wilson_interval


def _interval(num: int, den: int) -> tuple[float | None, float | None]:
    low, high = wilson_interval("n", "d")
    row = pl.DataFrame({"n": [num], "d": [den]}).select(low.alias("low"), high.alias("high")).row(0)
    return row[0], row[1]


# Hand-worked: centre = (p + z²/2n) / (1 + z²/n), half = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
# 8/10: z² = 3.841459, centre = 0.992073/1.384146 = 0.716740, half = 0.313617/1.384146 = 0.226578.
# 0/5: low 0, high = z²/(n + z²) = 3.841459/8.841459 = 0.434482; 5/5 mirrors it.
@pytest.mark.parametrize(
    ("num", "den", "low", "high"),
    [
        (8, 10, 0.490162, 0.943318),
        (0, 5, 0.0, 0.434482),
        (5, 5, 0.565518, 1.0),
        (1, 2, 0.094531, 0.905469),
        (3, 20, 0.052369, 0.360419),
    ],
)
def test_wilson_interval_matches_hand_computed_values(num: int, den: int, low: float, high: float) -> None:
    got_low, got_high = _interval(num, den)
    assert got_low == pytest.approx(low, abs=1e-6)
    assert got_high == pytest.approx(high, abs=1e-6)


def test_zero_and_all_successes_hit_the_bounds_exactly() -> None:
    assert _interval(0, 5)[0] == 0.0
    assert _interval(5, 5)[1] == 1.0


def test_zero_denominator_gives_null_rate_and_interval() -> None:
    assert _interval(0, 0) == (None, None)
    assert pl.DataFrame({"n": [0], "d": [0]}).select(safe_rate("n", "d")).item() is None


def test_rate_columns_names_values_and_low_volume() -> None:
    frame = pl.DataFrame({"reopen_numerator": [8, 0, 3], "reopen_denominator": [10, 0, 20]})
    got = frame.select(rate_columns("reopen", min_volume=20))
    expected = pl.DataFrame(
        {
            "reopen_rate": [0.8, None, 0.15],
            "reopen_ci_low": [0.490162, None, 0.052369],
            "reopen_ci_high": [0.943318, None, 0.360419],
            "is_reopen_low_volume": [True, True, False],
        }
    )
    assert_frame_equal(got, expected, abs_tol=1e-6)


@pytest.mark.parametrize(
    ("den", "min_volume", "low_volume"), [(19, 20, True), (20, 20, False), (0, 0, False)]
)
def test_low_volume_is_strictly_under_the_minimum(den: int, min_volume: int, low_volume: bool) -> None:
    frame = pl.DataFrame({"m_numerator": [0], "m_denominator": [den]})
    assert frame.select(rate_columns("m", min_volume)[-1]).item() is low_volume


def test_default_z_is_the_two_sided_95_percent_quantile() -> None:
    from scipy.stats import norm

    assert norm.ppf(0.975) == pytest.approx(Z_95, abs=1e-12)


@given(st.integers(0, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_interval_brackets_the_rate_within_0_and_1(pair: tuple[int, int]) -> None:
    num, den = pair
    frame = pl.DataFrame({"m_numerator": [num], "m_denominator": [den]}).select(rate_columns("m", 20))
    rate, low, high, _ = frame.row(0)
    if den == 0:
        assert (rate, low, high) == (None, None, None)
    else:
        assert 0.0 <= low <= rate + 1e-12
        assert rate - 1e-12 <= high <= 1.0


def test_regression_interval_contains_rate_at_zero_and_one_despite_rounding():
    """The output gate failed 'ci_low <= rate' on 0/n and 'rate <= ci_high' on n/n rows: the
    Wilson bounds there equal the rate mathematically but rounded a hair past it."""
    dens = list(range(1, 400))
    frame = pl.DataFrame({"num": [0] * len(dens) + dens, "den": dens + dens})
    low, high = wilson_interval("num", "den")
    out = frame.with_columns(rate=pl.col("num") / pl.col("den"), low=low, high=high)
    assert out.filter(pl.col("num") == 0)["low"].to_list() == [0.0] * len(dens)
    assert out.filter(pl.col("num") == pl.col("den"))["high"].to_list() == [1.0] * len(dens)
    assert out.filter((pl.col("low") > pl.col("rate")) | (pl.col("high") < pl.col("rate"))).is_empty()
