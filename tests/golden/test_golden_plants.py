"""Issue #3, done when: on the generator's planted behaviours the expected agents and customers
are flagged, and no others.

The default sample goes through the real ingestion and `run_audit`; expectations come from
`_generator/plants.json` (never hard-coded ids) and, for dates, from the canonical frames.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl
import pytest
from golden_pipeline import MATURE_DAYS, NEWEST_EXPORT, SAMPLE, GoldenRun, audit_days

from configs.policy import load_policy
from flows.windows import lookahead_days

# The golden run is a session fixture: one worker builds it once and runs every test that reads it.
pytestmark = pytest.mark.xdist_group("golden")

DAYS = audit_days(load_policy())
ASKED = "customer_request"


def flags(run: GoldenRun, day: date, flag_type: str) -> pl.DataFrame:
    table = run.tables[day]["concession_flags"]
    return table.filter(pl.col("flag_type") == flag_type)


def subjects(run: GoldenRun, day: date, flag_type: str) -> set[str]:
    return set(flags(run, day, flag_type)["subject_id"].to_list())


def granted(run: GoldenRun, concession_ids: list[str]) -> pl.DataFrame:
    """Each concession's grant day (event occurred_at, call ended_at; business time zone) and its
    granting agent (event actor, call agent), read from the canonical frames."""
    tz = run.policy.business_time_zone
    events = (
        run.ingested["ticket_events"]
        .canonical.collect()
        .filter((pl.col("event_type") == "concession") & pl.col("event_id").is_in(concession_ids))
    )
    calls = (
        run.ingested["calls"]
        .canonical.collect()
        .filter(pl.col("concession_type").is_not_null() & pl.col("call_id").is_in(concession_ids))
    )
    found = pl.concat(
        [
            events.select(id="event_id", at="occurred_at", agent_id="actor_id"),
            calls.select(id="call_id", at="ended_at", agent_id="agent_id"),
        ]
    ).with_columns(pl.col("at").dt.convert_time_zone(tz).dt.date().alias("granted_on"))
    assert sorted(found["id"]) == sorted(concession_ids), "every planted concession is ingested"
    return found


def grant_dates(run: GoldenRun, concession_ids: list[str]) -> dict[str, date]:
    found = granted(run, concession_ids)
    return dict(zip(found["id"].to_list(), found["granted_on"].to_list(), strict=True))


def planted_violations(run: GoldenRun) -> dict[str, list[str]]:
    return {p["concession_id"]: [p["violation"]] for p in run.plants["policy_violations"]}


def test_golden_days_are_mature_and_cover_the_one_off_plants(run: GoldenRun) -> None:
    """Guards the fixture: mature days have closed look-ahead windows, and the one-off plants
    (outlier, the four single violations, the beneficiary's concessions) fall on audited days."""
    ahead = timedelta(days=lookahead_days(run.policy))
    assert all(day + ahead <= NEWEST_EXPORT for day in MATURE_DAYS)
    assert run.default_day == NEWEST_EXPORT - timedelta(days=3)
    # The flow's cut-off: the end of D + 7 for a mature day, of the newest export otherwise.
    for day in DAYS:
        end = min(day + ahead, NEWEST_EXPORT) + timedelta(days=1)
        assert run.windows[day].data_cutoff == datetime.combine(end, time(0), tzinfo=UTC)
    one_off = [
        p["concession_id"] for p in run.plants["policy_violations"] if p["violation"] != "missing_approval"
    ]
    outliers = [p["concession_id"] for p in run.plants["amount_outlier"]]
    beneficiary = run.plants["repeat_beneficiary"]["concession_ids"]
    dates = grant_dates(run, one_off + outliers + beneficiary)
    assert {dates[c] for c in one_off + outliers} <= set(DAYS)
    assert dates[beneficiary[2]] in DAYS and dates[beneficiary[3]] in DAYS


# --- follow-up --------------------------------------------------------------------------------


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_the_no_follow_up_agent_meets_no_follow_up(run: GoldenRun, day: date) -> None:
    agent = run.plants["no_follow_up_agent"]
    evidence = run.tables[day]["follow_up_audit"].filter(pl.col("agent_id") == agent)
    final = evidence.filter(pl.col("status").is_in(["met", "missed"])).height
    row = run.tables[day]["agent_scorecard"].filter(pl.col("agent_id") == agent)
    assert row["follow_up_numerator"].to_list() == [0]
    assert row["follow_up_denominator"].to_list() == [final]
    assert evidence.filter(pl.col("status") == "met").is_empty()


def test_the_no_follow_up_agent_had_eligible_contacts_on_every_day(run: GoldenRun) -> None:
    """Not vacuous: about 20 eligible contacts a weekday, so a positive denominator each day."""
    agent = run.plants["no_follow_up_agent"]
    card = run.table("agent_scorecard").filter(pl.col("agent_id") == agent)
    assert card.height == len(DAYS)
    assert (card["follow_up_denominator"] > 0).all()


def test_every_other_agent_follows_up_on_at_least_80_percent_over_the_period(run: GoldenRun) -> None:
    card = run.table("agent_scorecard").filter(pl.col("agent_id") != run.plants["no_follow_up_agent"])
    period = card.group_by("agent_id").agg(
        pl.col("follow_up_numerator").sum(), pl.col("follow_up_denominator").sum()
    )
    assert period.height == SAMPLE.n_agents - 1
    low = period.filter(pl.col("follow_up_numerator") < 0.8 * pl.col("follow_up_denominator"))
    assert low.is_empty(), low


# --- concession rate --------------------------------------------------------------------------


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_only_the_generous_agent_is_flagged_for_a_high_concession_rate(run: GoldenRun, day: date) -> None:
    flagged = flags(run, day, "high_concession_rate")
    assert set(flagged["subject_id"]) == {run.plants["high_concession_agent"]}
    (row,) = flagged.to_dicts()
    assert row["observed"] / row["expected"] >= 3.0  # planted 5x; O/E about 4-5 with the peers' lift
    assert row["contacts_in_window"] >= run.policy.concessions.min_contacts_for_flag


def rate_inputs(run: GoldenRun, day: date) -> pl.DataFrame:
    """Per agent over the trailing window, re-derived from the canonical frames: n contacts closed
    (first move to solved, answered calls by end), k of them with a concession granted by the end of D."""
    tz = run.policy.business_time_zone
    start = day - timedelta(days=run.policy.concessions.window_days - 1)
    events = run.ingested["ticket_events"].canonical.collect()
    calls = run.ingested["calls"].canonical.collect()
    on_day = pl.col("closed_at").dt.convert_time_zone(tz).dt.date().is_between(start, day)
    by_end = pl.col("at").dt.convert_time_zone(tz).dt.date() <= day
    solves = events.filter((pl.col("event_type") == "status_change") & (pl.col("new_status") == "solved"))
    tickets = (
        solves.sort("occurred_at", "event_id")
        .group_by("ticket_id", maintain_order=True)
        .first()
        .select("ticket_id", pl.col("actor_id").alias("agent_id"), pl.col("occurred_at").alias("closed_at"))
    )
    conceded_tickets = (
        events.filter(pl.col("event_type") == "concession")
        .rename({"occurred_at": "at"})
        .filter(by_end)
        .select("ticket_id")
        .unique()
    )
    ticket_rows = tickets.filter(on_day).with_columns(
        pl.col("ticket_id").is_in(conceded_tickets["ticket_id"].implode()).alias("has_concession")
    )
    call_rows = calls.filter(pl.col("answered_at").is_not_null()).select(
        "agent_id",
        pl.col("ended_at").alias("closed_at"),
        pl.col("concession_type").is_not_null().alias("has_concession"),
    )
    both = pl.concat([ticket_rows.drop("ticket_id"), call_rows.filter(on_day)])
    return both.group_by("agent_id").agg(
        pl.len().cast(pl.Int64).alias("contacts_in_window"),
        pl.col("has_concession").sum().cast(pl.Float64).alias("observed"),
    )


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_agent_flags_count_what_the_exports_hold(run: GoldenRun, day: date) -> None:
    """n and O of every agent flag match counts taken straight from the canonical frames."""
    agent_flags = run.tables[day]["concession_flags"].filter(pl.col("subject_type") == "agent")
    assert not agent_flags.is_empty()
    counted = rate_inputs(run, day)
    flagged = agent_flags.select(pl.col("subject_id").alias("agent_id"), "contacts_in_window", "observed")
    assert flagged.join(counted, on="agent_id", how="anti", nulls_equal=True).is_empty()
    expected = counted.join(flagged.select("agent_id"), on="agent_id").select(flagged.columns)
    assert flagged.sort("agent_id").to_dicts() == expected.sort("agent_id").to_dicts()


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_no_agent_is_flagged_for_a_low_concession_rate(run: GoldenRun, day: date) -> None:
    assert subjects(run, day, "low_concession_rate") == set()


# --- escalation -------------------------------------------------------------------------------


def asked_contacts(run: GoldenRun) -> pl.DataFrame:
    evidence = run.table("escalation_audit")
    return evidence.filter(pl.col("signals").list.contains(ASKED))


def test_the_no_escalation_agent_misses_every_request(run: GoldenRun) -> None:
    agent = run.plants["no_escalation_agent"]
    asked = asked_contacts(run).filter(pl.col("agent_id") == agent)
    classes = Counter(asked["escalation_class"].to_list())
    assert classes["missed"] >= 3  # accumulates over the audited days
    assert set(classes) <= {"missed", "pending"}  # never timely, late or handled
    card = run.table("agent_scorecard").filter(pl.col("agent_id") == agent)
    assert card["missed_escalation_numerator"].sum() >= classes["missed"]
    assert card["escalation_numerator"].sum() == 0


def test_ordinary_agents_escalate_every_request_in_time(run: GoldenRun) -> None:
    ordinary = asked_contacts(run).filter(pl.col("agent_id") != run.plants["no_escalation_agent"])
    assert ordinary.height > 50
    assert set(ordinary["escalation_class"]) <= {"timely", "pending"}
    assert run.table("escalation_audit").filter(pl.col("escalation_class") == "late").is_empty()
    assert run.table("agent_scorecard")["late_escalation_numerator"].sum() == 0


# --- customers and concessions ----------------------------------------------------------------


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_only_the_planted_customer_is_a_repeat_beneficiary_when_its_window_holds_three(
    run: GoldenRun, day: date
) -> None:
    planted: dict[str, Any] = run.plants["repeat_beneficiary"]
    start = day - timedelta(days=run.policy.concessions.window_days - 1)
    window = granted(run, planted["concession_ids"]).filter(pl.col("granted_on").is_between(start, day))
    in_window = sorted(window["id"])
    flagged = flags(run, day, "repeat_beneficiary")
    if len(in_window) < run.policy.concessions.repeat_beneficiary_min:
        assert flagged.is_empty()
        return
    (row,) = flagged.to_dicts()
    assert row["subject_id"] == planted["customer_id"]
    assert row["evidence_ids"] == in_window
    assert row["observed"] == len(in_window)
    assert row["distinct_agents"] == window["agent_id"].n_unique()


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_only_the_planted_amount_is_an_outlier(run: GoldenRun, day: date) -> None:
    planted = [p["concession_id"] for p in run.plants["amount_outlier"]]
    granted_today = {c for c, d in grant_dates(run, planted).items() if d == day}
    assert subjects(run, day, "amount_outlier") == granted_today


@pytest.mark.parametrize("day", DAYS, ids=str)
def test_policy_violations_are_exactly_the_planted_ones(run: GoldenRun, day: date) -> None:
    planted = planted_violations(run)
    dates = grant_dates(run, list(planted))
    expected = {c: v for c, v in planted.items() if dates[c] == day}
    audit = run.tables[day]["concession_audit"].filter(pl.col("violations").list.len() > 0)
    found = dict(zip(audit["concession_id"].to_list(), audit["violations"].to_list(), strict=True))
    assert found == expected


def test_planted_violations_of_every_kind_are_audited(run: GoldenRun) -> None:
    """Not vacuous: the audited days hold every violation kind the generator plants."""
    audit = run.table("concession_audit")
    kinds = set(audit["violations"].explode().drop_nulls())
    assert kinds == {"type_not_allowed", "over_cap", "missing_approval", "self_approved", "unknown_currency"}


# --- quarantine -------------------------------------------------------------------------------


def reason_counts(frame: pl.DataFrame) -> Counter[str]:
    return Counter(frame["reason"].to_list())


def test_tickets_quarantine_exactly_the_generated_bad_rows(run: GoldenRun) -> None:
    assert reason_counts(run.ingested["tickets"].quarantine) == Counter(
        run.plants["faults"]["bad_rows"]["tickets"]
    )


def test_calls_quarantine_the_bad_rows_and_the_corrupt_file(run: GoldenRun) -> None:
    quarantine = run.ingested["calls"].quarantine
    corrupt = quarantine.filter(pl.col("row_number").is_null())
    assert corrupt["object_key"].to_list() == [run.plants["faults"]["corrupt_file"]]
    assert corrupt["reason"].to_list() == ["unreadable_file"]
    rows = quarantine.filter(pl.col("row_number").is_not_null())
    assert reason_counts(rows) == Counter(run.plants["faults"]["bad_rows"]["calls"])


def test_events_quarantine_the_bad_rows_plus_the_redelivered_copy_of_them(run: GoldenRun) -> None:
    """Two documented differences from the generator's counts (docs/decisions/golden-tests.md):
    the re-delivered file's own bad rows are quarantined again (its good rows and its conflicting
    copy are exact duplicates of the original delivery), and a conflicting copy drawn twice with
    identical content counts once as a conflict and once as an exact duplicate."""
    faults = run.plants["faults"]
    result = run.ingested["ticket_events"]
    planted = Counter(faults["bad_rows"]["ticket_events"])
    conflict = "duplicate_key_conflicting_content"
    copy = faults["redelivered_file"]["copy"]
    original = faults["redelivered_file"]["original"]
    in_copy = result.quarantine.filter(pl.col("object_key") == copy)
    in_original = result.quarantine.filter(pl.col("object_key") == original)
    assert reason_counts(in_copy) == reason_counts(in_original.filter(pl.col("reason") != conflict))
    files = result.files
    report = files.filter(pl.col("object_key") == copy).to_dicts()[0]
    assert report["rows_accepted"] == 0
    assert report["rows_duplicate"] == report["rows_read"] - in_copy.height
    other_duplicates = int(files.filter(pl.col("object_key") != copy)["rows_duplicate"].sum())
    assert other_duplicates > 0
    expected = planted + reason_counts(in_copy)
    expected[conflict] -= other_duplicates
    assert reason_counts(result.quarantine) == expected
