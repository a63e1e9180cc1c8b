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
NOW = DayInputsKey(
    {"tickets": 4, "ticket_events": 4, "calls": 3, "ingest_ledger": 5}, "cfg-a", "0.1.0+gabc", "key-1"
)
OTHER = DayInputsKey({"tickets": 1}, "cfg-x", "0.0.9", "key-0")


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
        "pseudonym_key_id": key.pseudonym_key_id,
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


def test_another_snapshot_config_code_or_key_is_not() -> None:
    from dataclasses import replace

    rows = published(DAY, "r1", 10)
    assert kept(rows, replace(NOW, store_versions={**NOW.store_versions, "ticket_events": 5})) == {}
    assert kept(rows, replace(NOW, config_hash="cfg-b")) == {}
    assert kept(rows, replace(NOW, code_version="0.1.0+gdef")) == {}
    assert kept(rows, replace(NOW, pseudonym_key_id="key-2")) == {}  # the key was rotated
    fewer_tables = dict(NOW.store_versions)
    del fewer_tables["calls"]  # a table the audit did not read then (not created yet)
    assert kept(rows, replace(NOW, store_versions=fewer_tables)) == {}


def test_the_latest_publish_point_is_judged_not_an_older_one() -> None:
    rows = [*published(DAY, "r1", 10), *published(DAY, "r2", 20, OTHER)]
    assert kept(rows) == {}  # r2 published last, from other inputs
    assert kept(rows, OTHER) == {DAY: "r2"}


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


# An attempt of a day: how it ended, and whether it was made from the inputs of now.
OUTCOMES = ("succeeded", "failed", "killed", "killed_then_rolled_back", "legacy_succeeded")


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(OUTCOMES), st.booleans()),
        max_size=14,
    )
)
def test_a_day_is_kept_exactly_when_its_last_attempt_not_rolled_back_succeeded_from_the_inputs_of_now(
    attempts: list[tuple[int, str, bool]],
) -> None:
    """Attempts in the order they ran (numbers increase), written as the protocol writes them:
    an intent row, then a succeeded or failed row, none when killed, a rolled_back row when a
    repair closed it; a legacy succeeded row has no attempt number (never kept). A day is kept
    exactly when its last attempt that was not rolled back succeeded with a number and the
    inputs of now."""
    rows: list[dict[str, Any]] = []
    last_standing: dict[dt.date, tuple[str, bool]] = {}
    for n, (offset, outcome, same) in enumerate(attempts, start=1):
        day, run, key = DAY + dt.timedelta(days=offset), f"r{n}", NOW if same else OTHER
        if outcome == "legacy_succeeded":
            rows.append(row(day, run, "succeeded", None, key))
            last_standing.setdefault(day, ("legacy", same))  # older than any numbered attempt
            continue
        rows.append(row(day, run, "publishing", n, key))
        if outcome in ("succeeded", "failed"):
            rows.append(row(day, run, outcome, n, key))
        if outcome == "killed_then_rolled_back":
            rows.append(row(day, run, "rolled_back", n, key))
        else:
            last_standing[day] = (outcome, same)
    found = kept(rows) if rows else {}
    expected = {day for day, (outcome, same) in last_standing.items() if outcome == "succeeded" and same}
    assert set(found) == expected


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


def test_versions_read_leaves_out_the_tables_not_created() -> None:
    """What read_day_inputs records and what --resume compares: the same function."""
    from warehouse.store import NOT_CREATED, versions_read

    assert versions_read({"tickets": 3, "rejected_rows": NOT_CREATED, "ingest_ledger": 0}) == {
        "tickets": 3,
        "ingest_ledger": 0,
    }


def test_the_stray_folders_a_published_day_lists_are_read_per_day(tmp_path: Any) -> None:
    """`--resume` keeps a day only if its quarantine lists the stray folders this run's would."""
    from types import SimpleNamespace

    from deltalake import write_deltalake

    from flows.daily import _listed_strays
    from warehouse.delta import table_uri

    day2 = DAY + dt.timedelta(days=1)
    rows = pl.DataFrame(
        {
            "audit_date": [DAY, DAY, day2, day2],
            "object_key": ["tickets/export_date=2026-3-5/", "tickets/x.csv", "calls/old/", "calls/y/"],
            "row_number": [None, None, None, 7],
            "reason": ["unsupported_format", "unsupported_format", "unsupported_format", "malformed_row"],
        },
        schema_overrides={"row_number": pl.Int64},
    )
    write_deltalake(table_uri(str(tmp_path), "quarantine"), rows.to_arrow(), partition_by=["audit_date"])
    run = SimpleNamespace(settings=SimpleNamespace(warehouse_uri=str(tmp_path), s3=None))
    listed = _listed_strays(run, [DAY, day2, day2 + dt.timedelta(days=1)])  # type: ignore[arg-type]
    assert listed == {DAY: {"tickets/export_date=2026-3-5/"}, day2: {"calls/old/"}}
