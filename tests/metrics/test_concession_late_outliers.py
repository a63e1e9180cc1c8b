"""Amount outliers tested late (docs/metrics.md §3c, issue 13 item 3): a concession whose group was
too small on its grant day is tested on the first later day of its stay in the window on which the
group qualifies, and only then.

G is the outlier's grant day; every run below is one audit day over the same concessions (a day's
run sees only what was granted up to it). Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from configs.policy import ConcessionPolicy, load_policy
from tests.metrics.frames import calls_frame, events_frame, tickets_frame
from tests.metrics.test_concessions import concession, concessions_frame
from transforms.concessions import (
    AMOUNT_OUTLIER,
    FLAGS_SCHEMA,
    FLAGS_TABLE,
    OUTLIER_GROUP,
    amount_outlier_flags,
    check_policy,
    concession_tables,
    first_test_days,
    robust_z,
)
from transforms.contacts import AuditWindow, build_contacts

G = date(2026, 3, 10)
POLICY = load_policy().concessions  # window 28 days, min group 10, robust z 3.5
MAD_SCALE = 1.4826


def on(offset: int) -> date:
    return G + timedelta(days=offset)


def audit_window(day: date) -> AuditWindow:
    cutoff = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    return AuditWindow(audit_date=day, time_zone="UTC", data_cutoff=cutoff)


def grants(*groups: tuple[int, list[float]], prefix: str = "e") -> list[dict[str, object]]:
    """(billing, credit) concessions: for each (grant-day offset, amounts), one per amount."""
    rows = []
    for offset, amounts in groups:
        for amount in amounts:
            rows.append(concession(f"{prefix}{len(rows):02d}", amount=amount, audit_date=on(offset)))
    return rows


def flags_on(rows: list[dict[str, object]], day: date, policy: ConcessionPolicy = POLICY) -> pl.DataFrame:
    checked = check_policy(concessions_frame(*rows), policy)
    return amount_outlier_flags(checked, audit_window(day), policy).collect()


def flagged_ids(rows: list[dict[str, object]], day: date) -> list[str]:
    return flags_on(rows, day)["subject_id"].to_list()


# Eight ordinary amounts granted the day before G; the outlier X = 100 on G makes a group of 9.
ORDINARY = [6.0, 8.0, 8.0, 10.0, 10.0, 12.0, 12.0, 10.0]
OUTLIER = concession("x", amount=100.0, audit_date=G)


def test_outlier_in_a_small_group_is_flagged_the_day_a_tenth_arrives() -> None:
    # G..G+3: 9 in the group, under outlier_min_group 10: nobody is tested.
    # G+4: a 10th (10.0) arrives. Group 6, 8, 8, 10, 10, 10, 10, 12, 12, 100: median (10 + 10) / 2 = 10;
    # |x - 10| = 4, 2, 2, 0, 0, 0, 0, 2, 2, 90 -> sorted 0, 0, 0, 0, 2, 2, 2, 2, 4, 90: MAD = 2.
    # z(X) = (100 - 10) / (1.4826 * 2) = 90 / 2.9652 = 30.352 >= 3.5: flagged on G+4, granted on G.
    rows = [*grants((-1, ORDINARY)), OUTLIER, concession("tenth", amount=10.0, audit_date=on(4))]
    for offset in range(4):
        assert flagged_ids(rows, on(offset)) == [], f"G+{offset}: group of 9, not tested"
    (row,) = flags_on(rows, on(4)).to_dicts()
    assert row["flag_type"] == AMOUNT_OUTLIER and row["subject_id"] == "x"
    assert row["statistic"] == pytest.approx(90 / (MAD_SCALE * 2), abs=1e-9)
    assert row["statistic"] == pytest.approx(30.352084, abs=1e-6)
    assert (row["observed"], row["expected"], row["threshold"]) == (100.0, 10.0, 3.5)
    assert row["granted_on"] == G
    assert row["evidence_ids"] == ["x"]
    # G+5: the group still qualifies, but X (and everyone else) had their test on G+4.
    assert flagged_ids(rows, on(5)) == []
    checked = check_policy(concessions_frame(*rows), POLICY)
    tests = first_test_days(checked, audit_window(on(5)), POLICY).collect()
    assert set(tests["first_tested_on"]) == {on(4)}


def test_an_outlier_in_a_group_that_qualified_on_its_grant_day_is_flagged_that_day_only() -> None:
    # Ten on G (the eight, 10.0 and X): the grant-day test of today's rule, z = 30.352 as above.
    rows = [*grants((0, [*ORDINARY, 10.0])), OUTLIER]
    flags = flags_on(rows, G)
    assert flags["subject_id"].to_list() == ["x"]
    assert flags["granted_on"].to_list() == [G]
    assert flags["statistic"].to_list() == [pytest.approx(90 / (MAD_SCALE * 2), abs=1e-9)]
    assert all(flagged_ids(rows, on(offset)) == [] for offset in range(1, 28))


# On G ten amounts 10, 20, ..., 90 and 100: median 55, |x - 55| = 45, 35, 25, 15, 5, 5, 15, 25, 35, 45,
# MAD 25, so z(100) = 45 / (1.4826 * 25) = 1.214 and z(90) = 35 / 37.065 = 0.944: all ordinary.
# G+3: fifteen 10s arrive. Window ending G+3: sixteen 10s and 20 .. 100 (25): median 10, MAD 0; mean
# |x - 10| = (10 + 20 + ... + 90) / 25 = 450 / 25 = 18, scale 1.253314 * 18 = 22.5597:
# z(100) = 90 / 22.5597 = 3.989 and z(90) = 80 / 22.5597 = 3.546, both >= 3.5; z(80) = 3.103.
TENS = [10.0 * k for k in range(1, 11)]
FLOOD = [10.0] * 15


def test_a_concession_found_ordinary_on_its_grant_day_is_never_re_flagged() -> None:
    rows = [*grants((0, TENS)), *grants((3, FLOOD), prefix="f")]
    window = audit_window(on(3))
    checked = check_policy(concessions_frame(*rows), POLICY)
    z = dict(
        checked.filter(pl.col("audit_date").is_between(G, on(3)))
        .select("concession_id", robust_z("amount_policy_currency", list(OUTLIER_GROUP)).alias("z"))
        .collect()
        .iter_rows()
    )
    # what an every-day test would find on G+3: the 100 (e09) and the 90 (e08) out of line
    assert z["e09"] == pytest.approx(90 / (1.253314 * 18), abs=1e-9)
    assert z["e09"] == pytest.approx(3.989423, abs=1e-6)
    assert z["e08"] == pytest.approx(80 / (1.253314 * 18), abs=1e-9)
    assert z["e07"] == pytest.approx(70 / (1.253314 * 18), abs=1e-9)  # 3.103: not even then
    # they had their test on G (ordinary), the fifteen 10s have theirs on G+3 (z 0): nothing, ever
    assert amount_outlier_flags(checked, window, POLICY).collect().height == 0
    assert all(flagged_ids(rows, on(offset)) == [] for offset in range(28))


@pytest.mark.parametrize(("arrival", "flagged_on"), [(27, 27), (28, None)])
def test_a_concession_that_leaves_the_window_before_its_group_qualifies_is_never_tested(
    arrival: int, flagged_on: int | None
) -> None:
    # X on G, eight ordinary on G+1: 9 in the group until X leaves (last day in the window: G+27).
    # Two 10s arrive on `arrival`. On G+27 the group is 11: 6, 8, 8, 10 x 5, 12, 12, 100, median 10;
    # deviations 0 x 5, 2 x 4, 4, 90: MAD 2, z(X) = 90 / 2.9652 = 30.352: flagged, granted on G.
    # On G+28 X is out: the group is the 8 and the two 10s (10), tested without X.
    rows = [OUTLIER, *grants((1, ORDINARY)), *grants((arrival, [10.0, 10.0]), prefix="late")]
    flag_days = {offset: flagged_ids(rows, on(offset)) for offset in range(40)}
    expected = {} if flagged_on is None else {flagged_on: ["x"]}
    assert {offset: ids for offset, ids in flag_days.items() if ids} == expected
    if flagged_on is not None:
        (row,) = flags_on(rows, on(flagged_on)).to_dicts()
        assert row["statistic"] == pytest.approx(90 / (MAD_SCALE * 2), abs=1e-9)
        assert row["granted_on"] == G


def test_late_flag_row_end_to_end() -> None:
    """The published row of a late test: raised on G+4, window ending G+4, granted_on G; it counts
    for the granting agent on G+4."""
    amounts = [(-1, a) for a in ORDINARY] + [(0, 100.0), (4, 10.0)]
    events = events_frame(
        *[
            {
                "ticket_id": f"t{i}",
                "occurred_at": f"{on(offset)}T10:00:00Z",
                "event_type": "concession",
                "actor_id": "a2" if amount == 100.0 else "a1",
                "concession_type": "credit",
                "concession_amount": amount,
                "currency": "USD",
                "approved_by": "s1",
            }
            for i, (offset, amount) in enumerate(amounts)
        ]
    )
    tickets = tickets_frame(*[{"ticket_id": f"t{i}", "customer_id": f"c{i}"} for i in range(len(amounts))])
    window = audit_window(on(4))
    contacts = build_contacts(tickets, events, calls_frame(), "UTC")
    result = concession_tables(contacts, tickets, events, calls_frame(), window, POLICY, "v1")
    flags = result.tables[FLAGS_TABLE].collect()
    assert flags.schema == FLAGS_SCHEMA
    (row,) = flags.to_dicts()
    assert (row["subject_id"], row["agent_id"], row["customer_id"]) == ("e9", "a2", "c8")
    assert (row["audit_date"], row["granted_on"]) == (on(4), G)
    assert (row["window_start"], row["window_end"]) == (on(4) - timedelta(days=27), on(4))
    assert row["statistic"] == pytest.approx(90 / (MAD_SCALE * 2), abs=1e-9)
    counts = result.counts.collect().filter(pl.col("count") == "concession_flags")
    assert counts.select("audit_date", "agent_id", "value").rows() == [(on(4), "a2", 1)]


# --- property: over a sequence of days, each concession is flagged at most once ----------------

SMALL = POLICY.model_copy(update={"window_days": 5, "outlier_min_group": 3, "outlier_robust_z": 1.0})
DAYS = 15  # grant days G .. G+14; audited G .. G+18, so every concession leaves the window


def first_qualifying_day(grant_day: int, group: str, grants_by_day: list[tuple[int, str]]) -> int | None:
    """Oracle: the first day from the grant day, while it is in the window, whose window holds
    at least outlier_min_group concessions of its group."""
    width = SMALL.window_days
    for day in range(grant_day, grant_day + width):
        size = sum(1 for d, g in grants_by_day if g == group and day - width < d <= day)
        if size >= SMALL.outlier_min_group:
            return day
    return None


@given(
    granted=st.lists(
        st.tuples(st.integers(0, DAYS - 1), st.sampled_from(["credit", "refund"]), st.integers(1, 60)),
        min_size=1,
        max_size=20,
    )
)
@settings(max_examples=30, deadline=None)
def test_each_concession_is_flagged_at_most_once(granted: list[tuple[int, str, int]]) -> None:
    rows = [
        concession(f"e{i:02d}", amount=float(amount), concession_type=kind, audit_date=on(offset))
        for i, (offset, kind, amount) in enumerate(granted)
    ]
    checked = check_policy(concessions_frame(*rows), SMALL)
    raised = [
        (offset, row)
        for offset in range(DAYS + SMALL.window_days - 1)
        for row in amount_outlier_flags(checked, audit_window(on(offset)), SMALL).collect().to_dicts()
    ]
    times = Counter(row["subject_id"] for _, row in raised)
    assert all(n == 1 for n in times.values())
    grants_by_day = [(offset, kind) for offset, kind, _ in granted]
    for offset, row in raised:
        i = int(row["subject_id"][1:])
        grant_day, kind, _ = granted[i]
        assert row["granted_on"] == on(grant_day)
        assert offset == first_qualifying_day(grant_day, kind, grants_by_day)
