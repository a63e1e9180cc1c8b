"""Inconsistent concessions (docs/metrics.md §3): policy check, peer rates, amount outliers,
repeat beneficiaries.

Expected values are worked out by hand in the comments; the normal tail uses math.erfc, not scipy.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from configs.policy import load_policy
from tests.metrics.frames import calls_frame, events_frame, solve, tickets_frame, ts
from transforms.concessions import (
    AMOUNT_OUTLIER,
    AUDIT_TABLE,
    CONCESSIONS_SCHEMA,
    FLAGS_SCHEMA,
    FLAGS_TABLE,
    HIGH_RATE,
    LOW_RATE,
    REPEAT_BENEFICIARY,
    VIOLATIONS,
    amount_outlier_flags,
    build_concessions,
    check_policy,
    concession_rate_flags,
    concession_rate_tests,
    concession_tables,
    exact_sums,
    repeat_beneficiary_flags,
)
from transforms.contacts import CONTACTS_SCHEMA, AuditWindow, build_contacts

D = date(2026, 3, 28)
WINDOW = AuditWindow(audit_date=D, time_zone="UTC", data_cutoff=ts("2026-03-29T00:00:00Z"))
POLICY = load_policy().concessions  # the project default (docs/policy.md)


def noon(day: date) -> datetime:
    return ts(datetime(day.year, day.month, day.day, 12))


def concession(concession_id: str = "e1", **values: Any) -> dict[str, Any]:
    """A concessions row (CONCESSIONS_SCHEMA) granted at noon on D unless told otherwise."""
    row: dict[str, Any] = {
        "concession_id": concession_id,
        "contact_id": f"t-{concession_id}",
        "contact_type": "ticket",
        "agent_id": "a1",
        "team_id": "T1",
        "customer_id": "c1",
        "category": "billing",
        "customer_tier": "standard",
        "concession_type": "credit",
        "amount": 10.0,
        "currency": "USD",
        "approved_by": "s1",
        "audit_date": D,
    }
    row.update(values)
    row.setdefault("granted_at", noon(row["audit_date"]))
    return row


def concessions_frame(*rows: dict[str, Any]) -> pl.LazyFrame:
    return pl.DataFrame(list(rows), schema=CONCESSIONS_SCHEMA).lazy()


def checked(**values: Any) -> dict[str, Any]:
    return check_policy(concessions_frame(concession(**values)), POLICY).collect().row(0, named=True)


# --- a. policy check -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "violations"),
    [
        ({"amount": 100.0}, []),  # credit cap 100: equal is allowed
        ({"amount": 100.01}, ["over_cap"]),
        ({"amount": 50.0, "approved_by": None}, []),  # approval threshold 50: strictly above needs one
        ({"amount": 50.01, "approved_by": None}, ["missing_approval"]),
        ({"amount": 50.01, "approved_by": "s9"}, []),
        ({"currency": "EUR", "amount": 92.59}, []),  # 92.59 * 1.08 = 99.9972
        ({"currency": "EUR", "amount": 92.60}, ["over_cap"]),  # 92.60 * 1.08 = 100.008
        ({"currency": "EUR", "amount": 46.29, "approved_by": None}, []),  # 49.9932
        ({"currency": "EUR", "amount": 46.30, "approved_by": None}, ["missing_approval"]),  # 50.004
        ({"currency": " eur", "amount": 92.60}, ["over_cap"]),  # codes are matched trimmed, any case
        ({"currency": "GBP", "amount": 500.0, "approved_by": None}, ["unknown_currency"]),
        ({"currency": None, "amount": 500.0, "approved_by": None}, ["unknown_currency"]),
        ({"approved_by": "a1"}, ["self_approved"]),
        ({"approved_by": "s1", "agent_id": None}, []),
        # outage allows credit, free_service; premium adds free_service, discount
        ({"category": "outage", "concession_type": "discount", "customer_tier": "premium"}, []),
        (
            {"category": "outage", "concession_type": "discount", "customer_tier": "standard"},
            ["type_not_allowed"],
        ),
        ({"category": "outage", "concession_type": "discount", "customer_tier": None}, ["type_not_allowed"]),
        # a category with no entry allows nothing of its own, but tier extras still apply
        ({"category": "returns", "concession_type": "credit"}, ["type_not_allowed"]),
        ({"category": None, "concession_type": "credit"}, ["type_not_allowed"]),
        ({"category": "returns", "concession_type": "discount", "customer_tier": "premium"}, []),
        (
            {"category": "outage", "concession_type": "refund", "amount": 250.0, "approved_by": "a1"},
            ["type_not_allowed", "over_cap", "self_approved"],
        ),
        (
            {"category": "returns", "currency": "JPY", "amount": 9000.0, "approved_by": None},
            ["type_not_allowed", "unknown_currency"],
        ),
    ],
)
def test_policy_check_violations(values: dict[str, Any], violations: list[str]) -> None:
    row = checked(**values)
    assert row["violations"] == violations
    assert row["is_within_policy"] is (violations == [])


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [("USD", 40.0, 40.0), ("EUR", 50.0, 54.0), ("EUR", 92.60, 100.008), ("GBP", 40.0, None)],
)
def test_amount_in_policy_currency(currency: str, amount: float, expected: float | None) -> None:
    value = checked(currency=currency, amount=amount)["amount_policy_currency"]
    assert value == (None if expected is None else pytest.approx(expected, abs=1e-12))


def test_type_without_cap_is_never_over_cap() -> None:
    policy = POLICY.model_copy(update={"caps": {"refund": 200.0}})
    row = check_policy(concessions_frame(concession(amount=10_000.0)), policy).collect().row(0, named=True)
    assert row["violations"] == []


@given(
    amount=st.floats(0, 1000, allow_nan=False),
    currency=st.sampled_from(["USD", "EUR", "GBP", None]),
    approved_by=st.sampled_from(["s1", "a1", None]),
    category=st.sampled_from(["billing", "outage", "returns", None]),
    tier=st.sampled_from(["premium", "standard", None]),
    kind=st.sampled_from(["credit", "refund", "free_service", "replacement", "discount", "fee_waiver"]),
)
@settings(max_examples=60, deadline=None)
def test_violations_are_ordered_and_consistent(amount, currency, approved_by, category, tier, kind) -> None:
    row = checked(
        amount=amount,
        currency=currency,
        approved_by=approved_by,
        category=category,
        customer_tier=tier,
        concession_type=kind,
    )
    found = row["violations"]
    assert found == [v for v in VIOLATIONS if v in found]
    assert ("unknown_currency" in found) is (row["amount_policy_currency"] is None)
    if "unknown_currency" in found:
        assert "over_cap" not in found and "missing_approval" not in found
    else:
        assert ("over_cap" in found) is (row["amount_policy_currency"] > POLICY.caps[kind] + 1e-9)
    allowed = POLICY.allowed_types(category, tier)
    assert ("type_not_allowed" in found) is (kind not in allowed)


# --- b. concession rate vs peers -----------------------------------------------------------------


def rate_inputs(
    cells: Sequence[tuple[str | None, str | None, int, int]], day: date = D
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Contacts and concessions from (agent, category, n closed, k with a concession) cells."""
    contacts, granted = [], []
    for agent, category, n, k in cells:
        for i in range(n):
            contact_id = f"{agent}-{category}-{i:03d}"
            contacts.append(
                {
                    "contact_id": contact_id,
                    "contact_type": "ticket",
                    "customer_id": f"cust-{contact_id}",
                    "category": category,
                    "channel": "email",
                    "ticket_id": contact_id,
                    "agent_id": agent,
                    "team_id": "T1",
                    "opened_at": noon(day) - timedelta(hours=1),
                    "closed_at": noon(day),
                    "audit_date": day,
                    "is_resolved": True,
                }
            )
            if i < k:
                granted.append(
                    concession(f"ev-{contact_id}", contact_id=contact_id, agent_id=agent, category=category)
                )
    contacts_lf = pl.DataFrame(contacts, schema=CONTACTS_SCHEMA).lazy()
    return contacts_lf, concessions_frame(*granted)


def normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


# billing N=10 K=4, outage N=8 K=2; a1 alone in hardware (no peers: left out of O, E, V).
HAND_CELLS = [
    ("a1", "billing", 4, 3),
    ("a2", "billing", 4, 1),
    ("a3", "billing", 2, 0),
    ("a1", "outage", 2, 1),
    ("a2", "outage", 2, 0),
    ("a3", "outage", 4, 1),
    ("a1", "hardware", 1, 1),
]
# a1: p_b = (4-3)/(10-4) = 1/6, p_o = (2-1)/(8-2) = 1/6 -> E = 1, V = 6 * 5/36 = 5/6, O = 4
# a2: p_b = (4-1)/6 = 1/2, p_o = 2/6 = 1/3 -> E = 2 + 2/3 = 8/3, V = 1 + 4/9 = 13/9, O = 1
# a3: p_b = 4/8 = 1/2, p_o = 1/4 -> E = 1 + 1 = 2, V = 0.5 + 0.75 = 5/4, O = 1
HAND = {
    "a1": (7, 4.0, 1.0, 5 / 6),
    "a2": (6, 1.0, 8 / 3, 13 / 9),
    "a3": (6, 1.0, 2.0, 5 / 4),
}


def test_rate_statistics_by_hand() -> None:
    tests = concession_rate_tests(*rate_inputs(HAND_CELLS), WINDOW, POLICY).collect()
    rows = {r["agent_id"]: r for r in tests.iter_rows(named=True)}
    z = {a: (o - e) / math.sqrt(v) for a, (_, o, e, v) in HAND.items()}
    p_high = {a: normal_sf(z[a]) for a in z}
    p_low = {a: normal_sf(-z[a]) for a in z}
    # BH upper tail: ranks a1 (0.0005) < a3 (0.814) < a2 (0.917), m = 3
    q_high = {"a2": p_high["a2"], "a3": min(1.5 * p_high["a3"], p_high["a2"]), "a1": 3 * p_high["a1"]}
    q_high["a1"] = min(q_high["a1"], q_high["a3"])
    # BH lower tail: ranks a2 (0.083) < a3 (0.186) < a1 (0.9995)
    q_low = {"a1": p_low["a1"], "a3": min(1.5 * p_low["a3"], p_low["a1"])}
    q_low["a2"] = min(3 * p_low["a2"], q_low["a3"])
    assert q_high["a3"] == q_high["a2"] and q_low["a2"] == 3 * p_low["a2"]  # the hand ranking holds
    for agent, (n, o, e, v) in HAND.items():
        row = rows[agent]
        assert row["contacts_in_window"] == n
        assert row["observed"] == o
        assert row["is_tested"] is True
        for column, expected in [
            ("expected", e),
            ("variance", v),
            ("z", z[agent]),
            ("p_high", p_high[agent]),
            ("q_high", q_high[agent]),
            ("p_low", p_low[agent]),
            ("q_low", q_low[agent]),
        ]:
            assert row[column] == pytest.approx(expected, abs=1e-9), (agent, column)
    assert rows["a1"]["evidence_ids"] == [
        "a1-billing-000",
        "a1-billing-001",
        "a1-billing-002",
        "a1-outage-000",
    ]


def test_rate_flag_by_hand() -> None:
    policy = POLICY.model_copy(update={"min_contacts_for_flag": 7})
    flags = concession_rate_flags(*rate_inputs(HAND_CELLS), WINDOW, policy).collect()
    p = normal_sf(3 / math.sqrt(5 / 6))
    assert flags.select("flag_type", "subject_id", "observed", "expected", "contacts_in_window").rows() == [
        (HIGH_RATE, "a1", 4.0, pytest.approx(1.0, abs=1e-12), 7)
    ]
    assert flags["q_value"][0] == pytest.approx(3 * p, abs=1e-9)
    assert flags["threshold"][0] == 0.05
    assert flags["team_id"][0] == "T1"


def test_contacts_without_agent_join_the_peer_pool_only() -> None:
    # a1 billing 4/2, nobody-attributed billing 4/0 -> p for a1 = 0/4 = 0: V = 0, a1 untested
    tests = concession_rate_tests(
        *rate_inputs([("a1", "billing", 4, 2), (None, "billing", 4, 0)]), WINDOW, POLICY
    ).collect()
    assert tests.select("agent_id", "expected", "variance", "is_tested", "z").rows() == [
        ("a1", 0.0, 0.0, False, None)
    ]


def strong_agent(n_a1: int, k_a1: int, peers: tuple[int, int] = (100, 10)) -> list[tuple[str, str, int, int]]:
    return [("a1", "billing", n_a1, k_a1), ("a2", "billing", *peers)]


@pytest.mark.parametrize(("closed", "flagged"), [(29, False), (30, True)])
def test_min_contacts_for_flag(closed: int, flagged: bool) -> None:
    # p = 10/100 = 0.1; k = 15 -> O/E = 15 / (0.1 n) >= 5, z > 6: only the volume can fail
    flags = concession_rate_flags(*rate_inputs(strong_agent(closed, 15)), WINDOW, POLICY).collect()
    assert (flags.filter(pl.col("flag_type") == HIGH_RATE)["subject_id"].to_list() == ["a1"]) is flagged
    tests = concession_rate_tests(*rate_inputs(strong_agent(closed, 15)), WINDOW, POLICY).collect()
    assert tests.filter(pl.col("agent_id") == "a1")["q_high"][0] < 1e-6


@pytest.mark.parametrize(("observed", "flagged"), [(30, True), (29, False)])
def test_rate_ratio_boundary(observed: int, flagged: bool) -> None:
    # a1: 200 contacts, peers p = 0.1 -> E = 20; O/E = 1.5 exactly vs 1.45.
    # a2: peer p = O/200, E = 15 or 14.5, O = 10: not high. z(a1) = 10/sqrt(18) or 9/sqrt(18): q = 2p < 0.05
    cells = strong_agent(200, observed)
    tests = concession_rate_tests(*rate_inputs(cells), WINDOW, POLICY).collect()
    a1 = tests.row(0, named=True)
    assert a1["expected"] == pytest.approx(20.0, abs=1e-9)
    assert a1["q_high"] == pytest.approx(2 * normal_sf((observed - 20) / math.sqrt(18)), abs=1e-9)
    assert a1["q_high"] < 0.05
    flags = concession_rate_flags(*rate_inputs(cells), WINDOW, POLICY).collect()
    assert (flags.filter(pl.col("flag_type") == HIGH_RATE)["subject_id"].to_list() == ["a1"]) is flagged


@pytest.mark.parametrize(("observed", "flagged"), [(0, True), (13, True), (14, False)])
def test_low_rate_mirror(observed: int, flagged: bool) -> None:
    # a1: 400 contacts vs peers 20/200 = 0.1 -> E = 40, V = 36. With rate_ratio_min 3 the low flag
    # needs O/E <= 1/3 (O <= 13.33): O = 13 gives z = -27/6 = -4.5 (q tiny), O = 14 fails the ratio only.
    policy = POLICY.model_copy(update={"rate_ratio_min": 3.0})
    cells = [("a1", "billing", 400, observed), ("a2", "billing", 100, 10), ("a3", "billing", 100, 10)]
    flags = concession_rate_flags(*rate_inputs(cells), WINDOW, policy).collect()
    a1 = flags.filter(pl.col("subject_id") == "a1")
    assert a1["flag_type"].to_list() == ([LOW_RATE] if flagged else [])
    if observed == 13:
        assert a1["statistic"][0] == pytest.approx(-4.5, abs=1e-9)
        assert a1["p_value"][0] == pytest.approx(normal_sf(4.5), abs=1e-12)


def test_a_low_rate_flag_carries_the_contacts_without_a_concession() -> None:
    """An agent who never grants one has no concession to show: the low flag's evidence is the
    agent's counted contacts without one (what a QA lead reviews), never an empty list; a high
    flag's is the contacts with one."""
    policy = POLICY.model_copy(update={"rate_ratio_min": 3.0})
    cells = [("a1", "billing", 40, 0), ("a2", "billing", 100, 50), ("a3", "billing", 100, 50)]
    alone = [("a1", "hardware", 5, 0)]  # no peers in hardware: not counted, so not evidence
    flags = concession_rate_flags(*rate_inputs(cells + alone), WINDOW, policy).collect()
    a1 = flags.filter(pl.col("subject_id") == "a1").row(0, named=True)
    assert (a1["flag_type"], a1["observed"]) == (LOW_RATE, 0.0)
    assert a1["evidence_ids"] == [f"a1-billing-{i:03d}" for i in range(40)]
    high = concession_rate_flags(*rate_inputs(strong_agent(30, 15)), WINDOW, POLICY).collect()
    assert high.filter(pl.col("flag_type") == HIGH_RATE)["evidence_ids"].to_list() == [
        [f"a1-billing-{i:03d}" for i in range(15)]
    ]


def test_rate_window_edges() -> None:
    # D-27 is in the window, D-28 out: a1's strong signal only counts when dated in the window
    inside = rate_inputs(strong_agent(30, 15), day=D - timedelta(days=27))
    outside = rate_inputs(strong_agent(30, 15), day=D - timedelta(days=28))
    high = concession_rate_flags(*inside, WINDOW, POLICY).collect().filter(pl.col("flag_type") == HIGH_RATE)
    assert high["subject_id"].to_list() == ["a1"]
    assert concession_rate_tests(*outside, WINDOW, POLICY).collect().height == 0


def test_concession_after_audit_day_does_not_count() -> None:
    contacts, granted = rate_inputs(strong_agent(30, 15))
    later = granted.with_columns(pl.col("granted_at") + timedelta(days=1))
    tests = concession_rate_tests(contacts, later, WINDOW, POLICY).collect()
    assert tests["observed"].to_list() == [0.0, 0.0]


cells_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a1", "a2", "a3", "a4", None]),
        st.sampled_from(["billing", "outage", None]),
        st.integers(0, 12),
        st.integers(0, 12),
    ).map(lambda c: (c[0], c[1], c[2], min(c[2], c[3]))),
    min_size=1,
    max_size=8,
    unique_by=lambda c: (c[0], c[1]),
)


@given(cells=cells_strategy, min_contacts=st.integers(1, 12), ratio=st.sampled_from([1.0, 1.2, 1.5]))
@settings(max_examples=60, deadline=None)
def test_rate_invariants(cells, min_contacts: int, ratio: float) -> None:
    policy = POLICY.model_copy(
        update={"min_contacts_for_flag": min_contacts, "rate_ratio_min": ratio, "bh_q": 0.5}
    )
    contacts, granted = rate_inputs(cells)
    tests = concession_rate_tests(contacts, granted, WINDOW, policy).collect()
    for row in tests.iter_rows(named=True):
        assert len(row["evidence_ids"]) == row["observed"]
        if not row["is_tested"]:
            assert row["p_high"] is None and row["q_high"] is None
            continue
        for p, q in (("p_high", "q_high"), ("p_low", "q_low")):
            assert 0.0 <= row[p] <= 1.0
            assert row[p] - 1e-12 <= row[q] <= 1.0
    # flagged exactly when every condition holds
    expected: set[tuple[str, str]] = set()
    for row in tests.filter(pl.col("is_tested") & (pl.col("contacts_in_window") >= min_contacts)).iter_rows(
        named=True
    ):
        ratio_seen = row["observed"] / row["expected"]
        if row["q_high"] <= 0.5 + 1e-9 and ratio_seen >= ratio - 1e-9:
            expected.add((HIGH_RATE, row["agent_id"]))
        if row["q_low"] <= 0.5 + 1e-9 and ratio_seen <= 1 / ratio + 1e-9:
            expected.add((LOW_RATE, row["agent_id"]))
    flags = concession_rate_flags(contacts, granted, WINDOW, policy).collect()
    assert set(flags.select("flag_type", "subject_id").rows()) == expected
    assert flags.height == len(expected)
    # order independence: shuffled inputs give the same tests
    shuffled = [f.collect().sample(fraction=1.0, shuffle=True, seed=7).lazy() for f in (contacts, granted)]
    contacts_s, granted_s = shuffled
    assert_frame_equal(concession_rate_tests(contacts_s, granted_s, WINDOW, policy).collect(), tests)


@pytest.mark.parametrize("terms", [[1e16, 1.0, -1e16], [1.0, -1e16, 1e16], [-1e16, 1e16, 1.0]])
def test_exact_sums_do_not_depend_on_term_order(terms: list[float]) -> None:
    """Left to right, 1e16 + 1.0 - 1e16 is 0.0; the correctly rounded sum is 1.0 in every order."""
    assert exact_sums(pl.Series([terms, [], [0.1, 0.2, 0.3]])).to_list() == [1.0, 0.0, 0.6]


# a1 has one contact (none conceded) in each of six categories; a2 is its only peer, with rates
# whose sum depends on the order it is taken in (three different results over the permutations).
ORDER_PEERS = {"billing": (3, 1), "outage": (7, 1), "hardware": (11, 2), "account": (10, 1),
               "shipping": (13, 3), "general": (9, 2)}  # fmt: skip
ORDER_CELLS = [("a1", c, 1, 0) for c in ORDER_PEERS] + [("a2", c, n, k) for c, (n, k) in ORDER_PEERS.items()]
RATE_FLOATS = ["expected", "variance", "z", "p_high", "q_high", "p_low", "q_low"]


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_rate_tests_are_bit_identical_under_row_shuffles(seed: int) -> None:
    """Regression: E and V were summed in the engine's row order, so shuffled inputs moved E, V, z,
    p and q in the last bits (golden run, 2026-11-04). They are now correctly rounded sums."""
    contacts, granted = rate_inputs(ORDER_CELLS)
    tests = concession_rate_tests(contacts, granted, WINDOW, POLICY).collect()
    a1 = tests.row(0, named=True)
    assert a1["expected"] == math.fsum(k / n for n, k in ORDER_PEERS.values())
    assert a1["variance"] == math.fsum(k / n * (1 - k / n) for n, k in ORDER_PEERS.values())
    contacts_s, granted_s = (
        f.collect().sample(fraction=1.0, shuffle=True, seed=seed).lazy() for f in (contacts, granted)
    )
    again = concession_rate_tests(contacts_s, granted_s, WINDOW, POLICY).collect()
    assert_frame_equal(again, tests, check_exact=True)
    assert again.select(RATE_FLOATS).rows() == tests.select(RATE_FLOATS).rows()


# --- c. amounts out of line ----------------------------------------------------------------------


def amounts_frame(amounts: list[float], flagged_day: date = D) -> pl.LazyFrame:
    """One (billing, credit) group; the last amount is granted on `flagged_day`, the rest on D-1."""
    rows = [
        concession(f"e{i:02d}", amount=a, audit_date=D - timedelta(days=1))
        for i, a in enumerate(amounts[:-1])
    ]
    rows.append(concession("ex", amount=amounts[-1], audit_date=flagged_day))
    return check_policy(concessions_frame(*rows), POLICY)


# median 10; deviations 4,2,2,0,0,0,0,2,2,|x-10| -> MAD 2; z = (x - 10) / (1.4826 * 2)
BASE = [6.0, 8.0, 8.0, 10.0, 10.0, 10.0, 10.0, 12.0, 12.0]


@pytest.mark.parametrize(("x", "flagged"), [(10 + 3.5 * 1.4826 * 2, True), (20.37, False)])
def test_robust_z_threshold(x: float, flagged: bool) -> None:
    flags = amount_outlier_flags(amounts_frame([*BASE, x]), WINDOW, POLICY).collect()
    assert flags["subject_id"].to_list() == (["ex"] if flagged else [])
    if flagged:
        row = flags.row(0, named=True)
        assert row["statistic"] == pytest.approx(3.5, abs=1e-9)
        assert (row["observed"], row["expected"], row["threshold"]) == (x, 10.0, 3.5)
        assert row["evidence_ids"] == ["ex"]


@pytest.mark.parametrize(("size", "flagged"), [(9, False), (10, True)])
def test_outlier_needs_min_group(size: int, flagged: bool) -> None:
    amounts = [*[8.0, 9.0, 10.0, 10.0, 10.0, 10.0, 11.0, 12.0, 10.0][: size - 1], 100.0]
    flags = amount_outlier_flags(amounts_frame(amounts), WINDOW, POLICY).collect()
    assert (flags.height == 1) is flagged


def test_outlier_tested_on_an_earlier_day_is_not_tested_again_on_d() -> None:
    # 100 granted on D-2, the nine others on D-1: the group first qualifies on D-1 (10), so the
    # 100 had its one test then (late tests: tests/metrics/test_concession_late_outliers.py)
    granted = amounts_frame([*BASE, 100.0], flagged_day=D - timedelta(days=2))
    assert amount_outlier_flags(granted, WINDOW, POLICY).collect().height == 0
    day_before = AuditWindow(D - timedelta(days=1), "UTC", ts("2026-03-28T00:00:00Z"))
    assert amount_outlier_flags(granted, day_before, POLICY).collect()["subject_id"].to_list() == ["ex"]


def test_mad_zero_falls_back_to_mean_absolute_deviation() -> None:
    # nine 20s and 500: MAD = 0, mean |dev| = 480/10 = 48 -> z = 480 / (1.253314 * 48)
    flags = amount_outlier_flags(amounts_frame([20.0] * 9 + [500.0]), WINDOW, POLICY).collect()
    assert flags["statistic"].to_list() == [pytest.approx(480 / (1.253314 * 48), abs=1e-9)]


def test_identical_amounts_are_never_outliers() -> None:
    assert amount_outlier_flags(amounts_frame([20.0] * 10), WINDOW, POLICY).collect().height == 0


def test_low_amounts_are_not_outliers() -> None:
    # upper tail only: median 100, MAD 1 -> z(0) = -100 / 1.4826 = -67, not flagged
    amounts = [98.0, 99.0, 99.0, 100.0, 100.0, 100.0, 100.0, 101.0, 101.0, 0.0]
    assert amount_outlier_flags(amounts_frame(amounts), WINDOW, POLICY).collect().height == 0


def test_unknown_currency_amounts_stay_out_of_groups() -> None:
    rows = [concession(f"e{i}", amount=10.0 + i, audit_date=D - timedelta(days=1)) for i in range(9)]
    rows.append(concession("ex", amount=500.0, currency="GBP"))
    flags = amount_outlier_flags(check_policy(concessions_frame(*rows), POLICY), WINDOW, POLICY)
    assert flags.collect().height == 0


# --- d. repeat beneficiaries ---------------------------------------------------------------------


@pytest.mark.parametrize(("third_day_offset", "flagged"), [(27, True), (28, False)])
def test_repeat_beneficiary_window_edge(third_day_offset: int, flagged: bool) -> None:
    rows = [
        concession("e1", agent_id="a1"),
        concession("e2", agent_id="a2", audit_date=D - timedelta(days=3)),
        concession("e3", agent_id="a1", audit_date=D - timedelta(days=third_day_offset)),
        concession("e4", agent_id="a9", customer_id="c2"),
    ]
    flags = repeat_beneficiary_flags(check_policy(concessions_frame(*rows), POLICY), WINDOW, POLICY).collect()
    if not flagged:
        assert flags.height == 0
        return
    row = flags.row(0, named=True)
    assert flags.height == 1
    assert (row["subject_type"], row["subject_id"], row["observed"], row["distinct_agents"]) == (
        "customer",
        "c1",
        3.0,
        2,
    )
    assert row["evidence_ids"] == ["e1", "e2", "e3"]


@pytest.mark.parametrize(("granted", "flagged"), [(2, False), (3, True)])
def test_repeat_beneficiary_minimum(granted: int, flagged: bool) -> None:
    rows = [concession(f"e{i}") for i in range(granted)]
    flags = repeat_beneficiary_flags(check_policy(concessions_frame(*rows), POLICY), WINDOW, POLICY).collect()
    assert (flags.height == 1) is flagged


# --- concessions from the canonical tables, end to end -------------------------------------------


def canonical_inputs():
    tickets = tickets_frame(
        {
            "ticket_id": "t1",
            "customer_id": "c1",
            "category": "outage",
            "customer_tier": "premium",
            "team_id": "T9",
        },
        {"ticket_id": "t2", "customer_id": "c2", "category": "hardware", "customer_tier": "standard"},
    )
    events = events_frame(
        {
            "ticket_id": "t1",
            "occurred_at": "2026-03-28T10:00:00Z",
            "event_type": "assignment",
            "assignee_id": "a1",
            "team_id": "T1",
            "actor_role": "system",
        },
        {
            "ticket_id": "t1",
            "occurred_at": "2026-03-28T11:00:00Z",
            "event_type": "concession",
            "actor_id": "a1",
            "concession_type": "discount",  # allowed for premium
            "concession_amount": 20.0,
            "currency": "EUR",
        },
        solve("t1", "2026-03-28T12:00:00Z", actor_id="a1"),
        {
            "ticket_id": "t2",
            "occurred_at": "2026-03-27T23:30:00Z",  # D in Europe/Berlin, D-1 in UTC
            "event_type": "concession",
            "actor_id": "a2",
            "concession_type": "credit",  # hardware does not allow credit
            "concession_amount": 120.0,
            "currency": "USD",
            "approved_by": "a2",
        },
    )
    calls = calls_frame(
        {
            "call_id": "k1",
            "customer_id": "c3",
            "initiated_at": "2026-03-28T08:00:00Z",
            "answered_at": "2026-03-28T08:01:00Z",
            "ended_at": "2026-03-28T08:20:00Z",
            "agent_id": "a3",
            "team_id": "T3",
            "ticket_id": "t1",  # category and tier from the linked ticket
            "outcome": "resolved",
            "concession_type": "free_service",
            "concession_amount": 60.0,
            "currency": "USD",
            "approved_by": "s1",
        },
        {
            "call_id": "k2",
            "customer_id": "c3",
            "initiated_at": "2026-03-28T09:00:00Z",
            "answered_at": "2026-03-28T09:01:00Z",
            "ended_at": "2026-03-28T09:20:00Z",
            "agent_id": "a3",
            "category": "billing",
        },
    )
    return tickets, events, calls


def test_build_concessions_from_canonical_tables() -> None:
    tickets, events, calls = canonical_inputs()
    contacts = build_contacts(tickets, events, calls, "UTC")
    got = build_concessions(tickets, events, calls, contacts, "UTC").sort("concession_id").collect()
    assert got.select(
        "concession_id", "contact_id", "contact_type", "agent_id", "team_id", "customer_id", "category",
        "customer_tier", "audit_date",
    ).rows() == [
        ("e2", "t1", "ticket", "a1", "T1", "c1", "outage", "premium", D),
        ("e4", "t2", "ticket", "a2", None, "c2", "hardware", "standard", D - timedelta(days=1)),
        ("k1", "k1", "call", "a3", "T3", "c3", "outage", "premium", D),
    ]  # fmt: skip


def test_audit_day_is_taken_in_the_business_time_zone() -> None:
    tickets, events, calls = canonical_inputs()
    contacts = build_contacts(tickets, events, calls, "Europe/Berlin")
    got = build_concessions(tickets, events, calls, contacts, "Europe/Berlin").sort("concession_id").collect()
    assert got["audit_date"].to_list() == [D, D, D]


def test_audit_concessions_end_to_end() -> None:
    tickets, events, calls = canonical_inputs()
    contacts = build_contacts(tickets, events, calls, "UTC")
    result = concession_tables(contacts, tickets, events, calls, WINDOW, POLICY, "2026.11-1")
    audit = result.tables[AUDIT_TABLE].collect()
    assert audit.select(
        "concession_id", "amount_policy_currency", "violations", "is_within_policy", "policy_version"
    ).rows() == [
        ("e2", pytest.approx(21.6, abs=1e-12), [], True, "2026.11-1"),
        ("k1", 60.0, [], True, "2026.11-1"),
    ]
    assert result.tables[FLAGS_TABLE].collect().schema == FLAGS_SCHEMA
    counts = result.counts.collect()
    assert counts.select("agent_id", "team_id", "count", "value").rows() == [
        ("a1", "T1", "concessions", 1),
        ("a1", "T1", "policy_violations", 0),
        ("a3", "T3", "concessions", 1),
        ("a3", "T3", "policy_violations", 0),
    ]


def test_counts_include_violations_and_agent_flags() -> None:
    # a1 grants ten (billing, credit) concessions on D; one is 100 (outlier, missing approval)
    amounts = [*BASE, 100.0]
    events = events_frame(
        *[
            {
                "ticket_id": f"t{i}",
                "occurred_at": "2026-03-28T10:00:00Z",
                "event_type": "concession",
                "actor_id": "a1",
                "concession_type": "credit",
                "concession_amount": amount,
                "currency": "USD",
            }
            for i, amount in enumerate(amounts)
        ]
    )
    tickets = tickets_frame(*[{"ticket_id": f"t{i}", "customer_id": f"c{i}"} for i in range(len(amounts))])
    result = concession_tables(
        build_contacts(tickets, events, calls_frame(), "UTC"),
        tickets,
        events,
        calls_frame(),
        WINDOW,
        POLICY,
        "v1",
    )
    flags = result.tables[FLAGS_TABLE].collect()
    assert flags.select("flag_type", "subject_id", "agent_id").rows() == [(AMOUNT_OUTLIER, "e10", "a1")]
    assert result.counts.collect().select("agent_id", "count", "value").rows() == [
        ("a1", "concession_flags", 1),
        ("a1", "concessions", 10),
        ("a1", "policy_violations", 1),
    ]


def test_flags_order_independent() -> None:
    rows = [concession(f"e{i}", customer_id="c1" if i % 2 else "c2", amount=10.0 + i) for i in range(12)]
    rows.append(concession("ez", amount=900.0, currency="USD", customer_id="c3"))
    shuffled_rows = rows.copy()
    random.Random(3).shuffle(shuffled_rows)
    outputs = []
    for ordered in (rows, shuffled_rows):
        granted = check_policy(concessions_frame(*ordered), POLICY)
        parts = [
            amount_outlier_flags(granted, WINDOW, POLICY),
            repeat_beneficiary_flags(granted, WINDOW, POLICY),
        ]
        outputs.append(pl.concat(parts, how="diagonal").sort("flag_type", "subject_id").collect())
    assert_frame_equal(outputs[0], outputs[1])
    assert outputs[0]["flag_type"].to_list() == [AMOUNT_OUTLIER, REPEAT_BENEFICIARY, REPEAT_BENEFICIARY]
    assert outputs[0]["subject_id"].to_list() == ["ez", "c1", "c2"]


def test_granting_agent_team_and_unanswered_call() -> None:
    tickets = tickets_frame({"ticket_id": "t1", "category": "outage", "team_id": "T9"})
    grant: dict[str, Any] = {
        "ticket_id": "t1",
        "occurred_at": "2026-03-28T11:00:00Z",
        "event_type": "concession",
    }
    grant |= {"concession_type": "credit", "concession_amount": 5.0, "currency": "USD"}
    events = events_frame(
        grant | {"actor_role": "supervisor", "actor_id": "s1"},  # a supervisor grants: attributed to them
        grant | {"actor_role": "customer", "actor_id": "c1"},  # never an agent (personal data)
        grant | {"actor_role": "system", "actor_id": "bot"},
    )
    calls = calls_frame(
        {
            "call_id": "k1",
            "initiated_at": "2026-03-28T08:00:00Z",
            "ended_at": "2026-03-28T08:05:00Z",  # never answered, still a concession
            "agent_id": "a3",
            "ticket_id": "t1",
            "concession_type": "credit",
            "currency": "USD",
        }
    )
    contacts = build_contacts(tickets, events, calls, "UTC")
    got = check_policy(build_concessions(tickets, events, calls, contacts, "UTC"), POLICY)
    rows = got.sort("concession_id").select(
        "concession_id", "agent_id", "team_id", "category", "amount_policy_currency", "violations"
    )
    assert rows.collect().rows() == [
        ("e1", "s1", "T9", "outage", 5.0, []),  # no assignment for s1: the ticket's team
        ("e2", None, "T9", "outage", 5.0, []),
        ("e3", None, "T9", "outage", 5.0, []),
        ("k1", "a3", None, "outage", None, []),  # no amount: nothing to compare
    ]


def test_generous_agent_flagged_end_to_end() -> None:
    # three agents close 30 billing tickets each over the window; a1 grants on 15, a2 and a3 on 3.
    # a1: p = 6/60 = 0.1, E = 3, V = 2.7, O = 15 -> z = 12/sqrt(2.7) = 7.30; O/E = 5; 30 contacts.
    tickets, events = [], []
    for agent, generous in (("a1", 15), ("a2", 3), ("a3", 3)):
        for i in range(30):
            ticket_id = f"{agent}-t{i:02d}"
            solved_at = noon(D - timedelta(days=i % 28))
            tickets.append(
                {"ticket_id": ticket_id, "customer_id": f"{agent}-c{i}", "created_at": "2026-02-01T09:00Z"}
            )
            events.append(solve(ticket_id, solved_at.isoformat(), actor_id=agent))
            if i < generous:
                events.append(
                    {
                        "ticket_id": ticket_id,
                        "occurred_at": (solved_at - timedelta(hours=1)).isoformat(),
                        "event_type": "concession",
                        "actor_id": agent,
                        "concession_type": "credit",
                        "concession_amount": 10.0,
                        "currency": "USD",
                    }
                )
    tickets_lf, events_lf, calls_lf = tickets_frame(*tickets), events_frame(*events), calls_frame()
    contacts = build_contacts(tickets_lf, events_lf, calls_lf, "UTC")
    result = concession_tables(contacts, tickets_lf, events_lf, calls_lf, WINDOW, POLICY, "v1")
    flags = result.tables[FLAGS_TABLE].filter(pl.col("flag_type") == HIGH_RATE).collect()
    assert flags.select("subject_id", "observed", "contacts_in_window").rows() == [("a1", 15.0, 30)]
    assert flags["expected"][0] == pytest.approx(3.0, abs=1e-9)
    assert flags["statistic"][0] == pytest.approx(12 / math.sqrt(2.7), abs=1e-9)
    assert flags["evidence_ids"].to_list() == [[f"a1-t{i:02d}" for i in range(15)]]
    assert (flags["window_start"][0], flags["window_end"][0]) == (D - timedelta(days=27), D)
    counts = result.counts.filter(pl.col("count") == "concession_flags").collect()
    assert counts.select("agent_id", "value").rows() == [("a1", 1)]
