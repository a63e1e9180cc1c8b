"""The backfill's progress line: n/N, elapsed, and what is left at the pace so far."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.summary import progress_line

DAY = date(2026, 3, 6)


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "failed", "line"),
    [
        (1, 4, 42.0, False, "2026-03-06 done: 1/4 days, 42 s elapsed, about 2 min 06 s left"),
        (3, 28, 600.0, True, "2026-03-06 failed: 3/28 days, 10 min 00 s elapsed, about 1 h 23 min left"),
        (28, 28, 7380.4, False, "2026-03-06 done: 28/28 days, 2 h 03 min elapsed"),
    ],
)
def test_the_line_says_how_far_and_how_long_is_left(
    done: int, total: int, elapsed: float, failed: bool, line: str
) -> None:
    assert progress_line(DAY, done, total, elapsed, failed) == line


@given(st.integers(1, 400), st.integers(0, 400), st.floats(0, 1e6))
def test_n_of_total_and_nothing_left_at_the_end(done: int, extra: int, elapsed: float) -> None:
    total = done + extra
    line = progress_line(DAY, done, total, elapsed)
    assert f": {done}/{total} days, " in line
    assert ("left" in line) == (done < total)


@pytest.mark.xdist_group("prefect")
def test_a_refused_progress_bar_never_fails_a_backfill(
    prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The artifact API refusing the bar (a blip, a restarting server) is logged, not raised:
    the days are what counts."""
    from prefect import flow

    from flows import daily

    def refuse(*_: object, **__: object) -> None:
        raise RuntimeError("API unavailable")

    monkeypatch.setattr(daily, "update_progress_artifact", refuse)

    @flow
    def two_days() -> tuple[list[str], int, bool]:
        progress = daily.BackfillProgress(2)
        got = [progress.after(DAY, "first"), progress.after(DAY, "second", failed=False)]
        return got, progress.done, progress.artifact is not None

    assert two_days() == (["first", "second"], 2, True)

    monkeypatch.setattr(daily, "create_progress_artifact", refuse)
    assert two_days() == (["first", "second"], 2, False)  # no bar at all: nothing to update
