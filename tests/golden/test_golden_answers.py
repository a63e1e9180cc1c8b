"""The golden run reproduces the stored answers exactly (floats rounded to 9 places).

A difference means an audit result changed. If the change is intended, rewrite the answers with
`uv run python tests/golden/regenerate.py` and say in the commit message what moved and why.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from golden_pipeline import ANSWERS, GoldenRun, answers, audit_days, dump_answers, rounded

from configs.policy import load_policy

# The golden run is a session fixture: one worker builds it once and runs every test that reads it.
pytestmark = pytest.mark.xdist_group("golden")

DAYS = [d.isoformat() for d in audit_days(load_policy())]
HINT = "audit results changed: if intended, run tests/golden/regenerate.py and explain it in the commit"


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    return json.loads(ANSWERS.read_text())


@pytest.fixture(scope="module")
def computed(run: GoldenRun) -> dict[str, Any]:
    # Through the same text form the answers are stored in (tuples become lists, and so on).
    return json.loads(dump_answers(answers(run)))


def test_the_answers_cover_the_golden_days_and_sample(
    stored: dict[str, Any], computed: dict[str, Any]
) -> None:
    assert sorted(stored["days"]) == DAYS
    assert stored["sample"] == computed["sample"]
    assert stored["policy_version"] == computed["policy_version"]


@pytest.mark.parametrize("day", DAYS)
@pytest.mark.parametrize("part", ["agents", "flags", "data_cutoff"])
def test_each_day_matches_its_golden_answer(
    stored: dict[str, Any], computed: dict[str, Any], day: str, part: str
) -> None:
    assert computed["days"][day][part] == stored["days"][day][part], HINT


def test_quarantine_counts_match_their_golden_answer(
    stored: dict[str, Any], computed: dict[str, Any]
) -> None:
    assert computed["quarantine"] == stored["quarantine"], HINT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1234567894, 0.123456789),
        (0.1234567895000001, 0.12345679),
        (float("nan"), None),
        ([1.0000000001, 2], [1.0, 2]),
        ("x", "x"),
    ],
)
def test_answers_round_floats_to_nine_places(value: object, expected: object) -> None:
    assert rounded(value) == expected
