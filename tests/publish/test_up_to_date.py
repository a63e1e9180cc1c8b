"""Which days `audit backfill --resume` leaves alone (`warehouse.publication.up_to_date_days`):
those whose publish point recorded the inputs a run has now, with no attempt after it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from warehouse.publication import DayInputsKey, up_to_date_days

DAY = dt.date(2026, 3, 2)
NOW = DayInputsKey({"tickets": 4, "ticket_events": 4, "calls": 3, "ingest_ledger": 5}, "cfg-a", "0.1.0+gabc")


def row(day: dt.date, run: str, status: str, attempt: int | None, key: DayInputsKey = NOW) -> dict[str, Any]:
    return {
        "audit_date": day,
        "run_id": run,
        "status": status,
        "attempt": attempt,
        "finished_at": dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
        "tables": [{"table": "agent_scorecard", "version": 7, "rows": 20}],
        "store_versions": [{"table": t, "version": v} for t, v in sorted(key.store_versions.items())],
        "config_hash": key.config_hash,
        "code_version": key.code_version,
        "data_docs_uri": f"reports/data_docs/{run}",
    }


def published(day: dt.date, run: str, attempt: int, key: DayInputsKey = NOW) -> list[dict[str, Any]]:
    """A whole attempt: its intent row, then its publish point."""
    return [row(day, run, "publishing", attempt, key), row(day, run, "succeeded", attempt, key)]


def kept(rows: list[dict[str, Any]], now: DayInputsKey = NOW) -> dict[dt.date, str]:
    return {d: u.run_id for d, u in up_to_date_days(pl.DataFrame(rows), now).items()}


def test_a_day_published_from_the_same_inputs_is_up_to_date() -> None:
    found = up_to_date_days(pl.DataFrame(published(DAY, "r1", 10)), NOW)
    assert list(found) == [DAY]
    assert (found[DAY].run_id, found[DAY].data_docs_uri) == ("r1", "reports/data_docs/r1")


def test_another_snapshot_config_or_code_is_not() -> None:
    rows = published(DAY, "r1", 10)
    newer_store = DayInputsKey({**NOW.store_versions, "ticket_events": 5}, NOW.config_hash, NOW.code_version)
    assert kept(rows, newer_store) == {}
    assert kept(rows, DayInputsKey(NOW.store_versions, "cfg-b", NOW.code_version)) == {}
    assert kept(rows, DayInputsKey(NOW.store_versions, NOW.config_hash, "0.1.0+gdef")) == {}
    fewer_tables = dict(NOW.store_versions)
    del fewer_tables["calls"]  # a table the audit did not read then (not created yet)
    assert kept(rows, DayInputsKey(fewer_tables, NOW.config_hash, NOW.code_version)) == {}


def test_the_latest_publish_point_is_judged_not_an_older_one() -> None:
    older_inputs = DayInputsKey({"tickets": 1}, "cfg-a", "0.1.0+gabc")
    rows = [*published(DAY, "r1", 10), *published(DAY, "r2", 20, older_inputs)]
    assert kept(rows) == {}  # r2 published last, from other inputs
    assert kept(rows, older_inputs) == {DAY: "r2"}


def test_an_attempt_after_the_point_makes_the_day_audited_again() -> None:
    killed = [*published(DAY, "r1", 10), row(DAY, "r2", "publishing", 20)]
    assert kept(killed) == {}  # killed after its intent: the next audit repairs the day
    failed = [*published(DAY, "r1", 10), row(DAY, "r2", "publishing", 20), row(DAY, "r2", "failed", 20)]
    assert kept(failed) == {}
    repaired = [*killed, row(DAY, "r3", "rolled_back", 20)]
    repaired[-1]["run_id"] = "r2"  # the repair closes r2's attempt with r2's run id
    assert kept(repaired) == {DAY: "r1"}  # the day is r1's again, whole


def test_a_day_never_published_or_published_before_attempts_is_not() -> None:
    assert kept([row(DAY, "r1", "publishing", 10)]) == {}  # killed before its publish point
    assert kept([row(DAY, "r1", "succeeded", None)]) == {}  # from before attempts were recorded
    assert up_to_date_days(pl.DataFrame(published(DAY, "r1", 10)).drop("store_versions"), NOW) == {}


@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),  # day offset
            st.sampled_from(["publishing", "succeeded", "failed", "rolled_back"]),
            st.booleans(),  # recorded with the inputs of now
        ),
        max_size=12,
    )
)
def test_a_day_is_kept_only_when_its_last_standing_attempt_succeeded_with_the_inputs_of_now(
    events: list[tuple[int, str, bool]],
) -> None:
    """Rows in attempt order: a kept day's highest attempt that no repair rolled back is a
    succeeded one made from the inputs of now; a day with no such attempt is never kept."""
    other = DayInputsKey({"tickets": 1}, "cfg-x", "0.0.9")
    rows = [
        row(DAY + dt.timedelta(days=d), f"r{n}", status, n + 1, NOW if same else other)
        for n, (d, status, same) in enumerate(events)
    ]
    found = kept(rows) if rows else {}
    for day in {r["audit_date"] for r in rows}:
        mine = [r for r in rows if r["audit_date"] == day]
        undone = {r["attempt"] for r in mine if r["status"] == "rolled_back"}
        standing = [r for r in mine if r["attempt"] not in undone]
        last = standing[-1] if standing else None
        expected = last is not None and last["status"] == "succeeded" and last["config_hash"] == "cfg-a"
        assert (day in found) == expected, (day, mine)


def test_a_manifest_from_before_store_versions_has_no_day_up_to_date(tmp_path: Any) -> None:
    """`manifest_rows` leaves out the columns an old manifest lacks; no day is then up to date."""
    from deltalake import write_deltalake

    from catalogue import MANIFEST_TABLE
    from warehouse.delta import table_uri
    from warehouse.publication import UP_TO_DATE_COLUMNS, manifest_rows

    old = pl.DataFrame(published(DAY, "r1", 10)).drop("store_versions", "code_version")
    write_deltalake(table_uri(str(tmp_path), MANIFEST_TABLE), old.to_arrow())
    rows = manifest_rows(str(tmp_path), None, columns=UP_TO_DATE_COLUMNS)
    assert rows.height == 2 and "store_versions" not in rows.columns
    assert up_to_date_days(rows, NOW) == {}
