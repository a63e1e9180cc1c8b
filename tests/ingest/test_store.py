"""The canonical store (warehouse/store.py) and its incremental ingest (ingestion/incremental.py).

The central property: whatever sequence of landings the store saw (objects arriving in any
order, re-delivered under another key, changed under the same key, split, deleted), it ends
exactly as a store built from scratch on the final landing: the same canonical rows with the
same lineage, the same copies, the same rejected rows and the same ledger counts.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_builders import MemoryStorage, call, csv_bytes, event, ticket
from polars.testing import assert_frame_equal

from ingestion.incremental import IngestReport, LandingEmptied, ingest_to_store, rebuild, source_id
from warehouse.store import Store

pytestmark = pytest.mark.integration  # Delta tables on disk

STORE_TABLES = ("tickets", "ticket_events", "calls", "rejected_rows")
LEDGER_FACTS = [
    "source_id",
    "entity",
    "object_key",
    "export_date",
    "etag",
    "status",
    "rows_read",
    "rows_accepted",
    "rows_quarantined",
    "rows_duplicate",
    "rows_superseded",
    "schema_drift",
    "file_error",
    "reasons",
    "first_record_date",
    "last_record_date",
]


def key(entity: str, day: int, name: str) -> str:
    return f"{entity}/export_date=2026-03-{day:02d}/{name}.csv"


def snapshot(store: Store) -> dict[str, pl.DataFrame]:
    """Every store table, sorted, and the ledger's facts of the objects in the landing."""
    out = {}
    for name in STORE_TABLES:
        frame = store.scan(name).collect()
        out[name] = frame.sort(frame.columns, nulls_last=True)
    ledger = store.ledger().filter(pl.col("status") == "ingested").select(LEDGER_FACTS)
    out["ledger"] = ledger.sort("object_key")
    return out


def assert_same_store(a: Store, b: Store) -> None:
    left, right = snapshot(a), snapshot(b)
    for name in left:
        assert_frame_equal(left[name], right[name], check_row_order=True), name


def ingest(landing: MemoryStorage, store: Store, run: str, batch_days: int = 7) -> IngestReport:
    return ingest_to_store(landing, store, run_id=run, batch_days=batch_days)


# --- hand-worked cases -------------------------------------------------------------------------

T1_V1 = ticket(ticket_id="T1", updated_at="2026-03-02T10:00:00Z", status="open")
T1_V2 = ticket(
    ticket_id="T1", updated_at="2026-03-03T10:00:00Z", status="solved", solved_at="2026-03-03T10:00:00Z"
)
T2 = ticket(ticket_id="T2", created_at="2026-03-03T08:00:00Z", updated_at="2026-03-03T08:00:00Z")


def test_a_newer_version_replaces_the_kept_row_and_the_older_objects_counts_follow(tmp_path: Path) -> None:
    landing = MemoryStorage({key("tickets", 2, "a"): csv_bytes([T1_V1])})
    store = Store(str(tmp_path / "store"))
    first = ingest(landing, store, "r1")
    assert first.objects_read["rows_accepted"].to_list() == [1]
    landing.objects[key("tickets", 3, "b")] = csv_bytes([T1_V2, T2])
    second = ingest(landing, store, "r2")
    assert second.objects_read["object_key"].to_list() == [key("tickets", 3, "b")]  # only the new one

    kept = store.canonical("tickets").collect().sort("ticket_id")
    assert kept.select("ticket_id", "status", "source_row").rows() == [("T1", "solved", 1), ("T2", "open", 2)]
    assert kept["source_id"].to_list() == [source_id(key("tickets", 3, "b"))] * 2
    copies = store.scan("tickets", kept=False).collect()
    assert copies.select("ticket_id", "status", "dedup_outcome").rows() == [("T1", "open", "superseded")]
    ledger = store.ledger().sort("object_key")
    # a: its row is still accepted, now as a superseded version; the run that changed it is recorded
    assert ledger.select("rows_accepted", "rows_superseded", "updated_run_id").rows() == [
        (1, 1, "r2"),
        (2, 0, "r2"),
    ]


def test_each_batch_merged_is_reported_with_its_export_days(tmp_path: Path) -> None:
    """A first ingest of a long history takes minutes: the flow logs a line per batch."""
    landing = MemoryStorage(
        {key("tickets", day, "a"): csv_bytes([ticket(ticket_id=f"T{day}")]) for day in (2, 3, 4, 9)}
    )
    lines: list[str] = []
    ingest_to_store(landing, Store(str(tmp_path / "store")), run_id="r1", batch_days=2, progress=lines.append)
    assert lines == [
        "export days 2026-03-02..2026-03-03 merged: batch 1/2, 2 objects",
        "export days 2026-03-04..2026-03-09 merged: batch 2/2, 2 objects",
    ]


def test_a_rerun_with_nothing_new_reads_nothing_and_writes_nothing(tmp_path: Path) -> None:
    landing = MemoryStorage(
        {key("tickets", 2, "a"): csv_bytes([T1_V1]), key("calls", 2, "k"): csv_bytes([call()])}
    )
    store = Store(str(tmp_path / "store"))
    ingest(landing, store, "r1")
    versions = store.versions()
    again = ingest(landing, store, "r2")
    assert again.objects_read.is_empty() and again.objects_deleted.is_empty()
    assert (again.unchanged, again.changed) == (2, False)
    assert store.versions() == versions  # not a single commit


def test_a_changed_object_and_a_late_object_are_recorded_and_their_days_reported(tmp_path: Path) -> None:
    """Day 3's object is re-delivered under its key with other content, and an object for export
    day 2 arrives after day 3: the ledger records both, the store is as if read from scratch, and
    the published days their record days can change are reported."""
    landing = MemoryStorage(
        {
            key("ticket_events", 3, "e"): csv_bytes([event(event_id="E1"), event(event_id="E2")]),
            key("tickets", 3, "t"): csv_bytes([T1_V1]),
        }
    )
    store = Store(str(tmp_path / "store"))
    ingest(landing, store, "r1")
    before = store.ledger().filter(pl.col("object_key") == key("ticket_events", 3, "e"))
    landing.objects[key("ticket_events", 3, "e")] = csv_bytes([event(event_id="E1", public="false")])
    landing.objects[key("tickets", 2, "late")] = csv_bytes([T2])
    seen: list[tuple[date, date]] = []

    def affected(first: date, last: date) -> list[date]:
        seen.append((first, last))
        return [date(2026, 3, 10)]

    report = ingest_to_store(landing, store, run_id="r2", affected_days=affected)
    assert report.late_objects == [key("tickets", 2, "late")]
    assert sorted(report.objects_read["object_key"]) == [
        key("ticket_events", 3, "e"),
        key("tickets", 2, "late"),
    ]
    assert report.affected_days == [date(2026, 3, 10)]
    assert (date(2026, 3, 3), date(2026, 3, 3)) in seen  # T2 was created on 03-03 (its record day)
    after = store.ledger().filter(pl.col("object_key") == key("ticket_events", 3, "e"))
    assert after["etag"].to_list() != before["etag"].to_list()
    assert after.select("rows_read", "rows_accepted", "ingested_run_id").row(0) == (1, 1, "r2")
    events = store.canonical("ticket_events").collect()
    assert events.select("event_id", "public").rows() == [("E1", False)]  # E2 went with the old version

    scratch = Store(str(tmp_path / "scratch"))
    ingest(landing, scratch, "s")
    assert_same_store(store, scratch)


def test_a_late_object_whose_rows_are_all_rejected_and_a_deleted_one_report_their_export_days(
    tmp_path: Path,
) -> None:
    """No row of either object was accepted, so neither has a record day; the days whose export
    range holds their export day publish their quarantine and inputs, so those are reported."""
    landing = MemoryStorage(
        {
            key("tickets", 5, "t"): csv_bytes([T1_V1]),
            key("tickets", 6, "bad"): csv_bytes([ticket(ticket_id="T5", status="bogus")]),
        }
    )
    store = Store(str(tmp_path / "store"))
    ingest(landing, store, "r1")
    del landing.objects[key("tickets", 6, "bad")]
    landing.objects[key("tickets", 4, "late")] = csv_bytes([ticket(ticket_id="T6", status="bogus")])
    seen: list[tuple[date, date]] = []

    def affected(first: date, last: date) -> list[date]:
        seen.append((first, last))
        return [first + timedelta(days=10)]

    report = ingest_to_store(landing, store, run_id="r2", affected_days=affected)
    assert report.late_objects == [key("tickets", 4, "late")]
    assert report.objects_read["rows_accepted"].to_list() == [0]
    assert sorted(seen) == [(date(2026, 3, 4), date(2026, 3, 4)), (date(2026, 3, 6), date(2026, 3, 6))]
    assert report.affected_days == [date(2026, 3, 14), date(2026, 3, 16)]


def test_a_deleted_object_takes_its_rows_and_lets_a_copy_become_canonical(tmp_path: Path) -> None:
    landing = MemoryStorage(
        {key("tickets", 2, "a"): csv_bytes([T1_V1]), key("tickets", 3, "b"): csv_bytes([T1_V2])}
    )
    store = Store(str(tmp_path / "store"))
    ingest(landing, store, "r1")
    del landing.objects[key("tickets", 3, "b")]
    report = ingest(landing, store, "r2")
    assert report.objects_deleted["object_key"].to_list() == [key("tickets", 3, "b")]
    assert store.scan("tickets").collect().select("ticket_id", "status", "dedup_outcome").rows() == [
        ("T1", "open", "kept")
    ]
    status = dict(store.ledger().select("object_key", "status").iter_rows())
    assert status == {key("tickets", 2, "a"): "ingested", key("tickets", 3, "b"): "deleted"}


def test_conflicting_event_copies_keep_the_first_delivery_whatever_arrives_first(tmp_path: Path) -> None:
    """The contract keeps an event's first delivery (earliest export day): a conflicting copy
    exported earlier but landing later takes its place, and the other becomes the conflict."""
    later = key("ticket_events", 5, "x")
    earlier = key("ticket_events", 4, "y")
    landing = MemoryStorage({later: csv_bytes([event(event_id="E1", public="true")])})
    store = Store(str(tmp_path / "store"))
    ingest(landing, store, "r1")
    landing.objects[earlier] = csv_bytes([event(event_id="E1", public="false")])
    ingest(landing, store, "r2")
    kept = store.canonical("ticket_events").collect()
    assert kept.select("public", "source_id").row(0) == (False, source_id(earlier))
    copies = store.scan("ticket_events", kept=False).collect()
    assert copies.select("dedup_outcome", "source_id").row(0) == ("conflict", source_id(later))
    counts = dict(store.ledger().select("object_key", "rows_quarantined").iter_rows())
    assert counts == {later: 1, earlier: 0}


def test_rebuild_gives_the_same_store_as_the_incremental_path(tmp_path: Path) -> None:
    landing = MemoryStorage({key("tickets", 2, "a"): csv_bytes([T1_V1])})
    store = Store(str(tmp_path / "store"))
    ingest(landing, store, "r1")
    landing.objects[key("tickets", 3, "b")] = csv_bytes([T1_V2, T2])
    landing.objects[key("ticket_events", 3, "e")] = csv_bytes([event(), event(event_id="E2")])
    ingest(landing, store, "r2")
    incremental = snapshot(store)
    rebuild(store)
    assert store.scan("tickets").collect().is_empty() and store.ledger().is_empty()
    ingest(landing, store, "r3")
    for name, frame in snapshot(store).items():
        assert_frame_equal(frame, incremental[name]), name


def test_a_landing_that_lists_nothing_of_an_entity_the_store_holds_is_refused(tmp_path: Path) -> None:
    """A wrong landing_uri looks like every export deleted: the run stops before any write, and
    only `rebuild` (the `rebuild-store` verb) empties the store."""
    landing = MemoryStorage(
        {key("tickets", 2, "a"): csv_bytes([T1_V1]), key("ticket_events", 2, "e"): csv_bytes([event()])}
    )
    store = Store(str(tmp_path / "store"))
    ingest(landing, store, "r1")
    before = snapshot(store)
    del landing.objects[key("ticket_events", 2, "e")]  # tickets still listed, events gone
    with pytest.raises(LandingEmptied, match="no ticket_events exports but the store holds 1"):
        ingest(landing, store, "r2")
    for name, frame in snapshot(store).items():
        assert_frame_equal(frame, before[name]), name
    rebuild(store)
    ingest(landing, store, "r3")
    assert store.scan("ticket_events").collect().is_empty()
    assert store.scan("tickets").collect()["ticket_id"].to_list() == ["T1"]


# --- the property ------------------------------------------------------------------------------

CUSTOMERS = ["C1", "C2"]
TICKET_IDS = ["T1", "T2", "T3"]
EVENT_IDS = ["E1", "E2", "E3", "E4"]


@st.composite
def ticket_rows(draw: st.DrawFn) -> dict[str, str | None]:
    hour = draw(st.integers(8, 12))
    return ticket(
        ticket_id=draw(st.sampled_from(TICKET_IDS)),
        customer_id=draw(st.sampled_from(CUSTOMERS)),
        created_at=f"2026-03-0{draw(st.integers(1, 3))}T08:00:00Z",
        updated_at=f"2026-03-04T{hour:02d}:00:00Z",  # ties on updated_at happen: the tie rule decides
        status=draw(st.sampled_from(["open", "pending", "bogus"])),  # bogus: rejected at staging
    )


@st.composite
def event_rows(draw: st.DrawFn) -> dict[str, str | None]:
    return event(
        event_id=draw(st.sampled_from(EVENT_IDS)),
        occurred_at=f"2026-03-0{draw(st.integers(1, 4))}T09:30:00Z",
        public=draw(st.sampled_from(["true", "false"])),  # the same event id with other content: a conflict
    )


@st.composite
def objects(draw: st.DrawFn) -> dict[str, bytes]:
    found = {}
    for entity, rows in (("tickets", ticket_rows()), ("ticket_events", event_rows())):
        for n in range(draw(st.integers(1, 3))):
            day = draw(st.integers(1, 4))
            found[key(entity, day, f"part-{n}")] = csv_bytes(draw(st.lists(rows, min_size=1, max_size=4)))
    return found


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict[str, bytes]], dict[str, bytes]]:
    """Landings one after another: the final objects arriving in a random order, with detours
    (an object re-delivered under another key, changed under its key then restored, split in
    two then joined again, deleted then restored, or an object that is later deleted for good)."""
    final = draw(objects())
    order = draw(st.permutations(sorted(final)))
    landing: dict[str, bytes] = {}
    states = []
    for object_key in order:
        detour = draw(st.sampled_from(["none", "copy", "changed", "split", "gone", "extra"]))
        data = final[object_key]
        if detour == "copy":
            landing[object_key.replace(".csv", "-resent.csv")] = data
        elif detour == "changed":
            landing[object_key] = data.replace(b"open", b"pending").replace(b"true", b"false")
            states.append(dict(landing))
        elif detour == "split":
            header, *lines = data.decode().splitlines(keepends=True)
            cut = len(lines) // 2
            landing[object_key.replace(".csv", "-a.csv")] = (header + "".join(lines[:cut])).encode()
            landing[object_key.replace(".csv", "-b.csv")] = (header + "".join(lines[cut:])).encode()
            states.append(dict(landing))
            del landing[object_key.replace(".csv", "-a.csv")], landing[object_key.replace(".csv", "-b.csv")]
        elif detour == "gone" and landing:
            victim = draw(st.sampled_from(sorted(landing)))
            kept = landing.pop(victim)
            states.append(dict(landing))
            landing[victim] = kept
        elif detour == "extra":
            landing[key("tickets", 2, f"extra-{len(states)}")] = csv_bytes([T1_V1])
        landing[object_key] = data
        states.append(dict(landing))
    final_landing = dict(landing)
    return states, final_landing


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories(), batch_days=st.sampled_from([1, 7]))
def test_any_history_of_landings_ends_as_the_store_built_from_scratch(
    tmp_path_factory: pytest.TempPathFactory,
    history: tuple[list[Mapping[str, bytes]], dict[str, bytes]],
    batch_days: int,
) -> None:
    states, final = history
    root = tmp_path_factory.mktemp("store")
    try:
        incremental = Store(str(root / "incremental"))
        landing = MemoryStorage()
        held: set[str] = set()  # entities the store holds objects of
        for number, state in enumerate(states):
            landing.objects = dict(state)
            listed = {object_key.split("/")[0] for object_key in state}
            if held - listed:  # an entity emptied: refused, and nothing written
                before = snapshot(incremental)
                with pytest.raises(LandingEmptied):
                    ingest(landing, incremental, f"r{number}", batch_days=batch_days)
                for name, frame in snapshot(incremental).items():
                    assert_frame_equal(frame, before[name]), name
                continue
            ingest(landing, incremental, f"r{number}", batch_days=batch_days)
            held = listed
        scratch = Store(str(root / "scratch"))
        ingest(MemoryStorage(final), scratch, "scratch", batch_days=30)
        assert_same_store(incremental, scratch)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_run_reports_what_it_rejected_whole_files_rows_and_stray_folders(tmp_path: Path) -> None:
    landing = MemoryStorage(
        {
            key("tickets", 2, "good"): csv_bytes([T1_V1, ticket(ticket_id="T9", status="bogus")]),
            "tickets/export_date=2026-03-02/broken.csv.gz": b"not gzip at all",
            "tickets/2026-03-02/lost.csv": csv_bytes([T2]),
        }
    )
    report = ingest(landing, Store(str(tmp_path / "store")), "r1")
    rows = report.quarantine.sort("object_key").select("object_key", "row_number", "reason").rows()
    assert rows == [
        ("tickets/2026-03-02/", None, "unsupported_format"),  # a folder that is not an export day
        ("tickets/export_date=2026-03-02/broken.csv.gz", None, "unreadable_file"),
        (key("tickets", 2, "good"), 2, "value_not_in_enum"),
    ]
    assert report.strays == ["tickets/2026-03-02/"]
    # Nothing in the folder is read and it has no day of its own: each day the run publishes
    # lists it in its quarantine (before, only the ingest's own result held it: lost).
    from flows.daily import DayInputs, with_strays
    from transforms.schemas import quarantine as q

    day = DayInputs(None, pl.DataFrame(), q.QUARANTINE_SCHEMA.to_frame(), {}, None)  # type: ignore[arg-type]
    published = with_strays(day, report).quarantine
    assert published.rows() == [
        (
            "tickets",
            "tickets/2026-03-02/",
            None,
            "unsupported_format",
            "folder is not export_date=YYYY-MM-DD: its objects are not read",
        ),
    ]
    assert with_strays(day, None) is day


def test_a_vendor_key_with_no_day_is_reported_under_the_entity_its_prefix_feeds() -> None:
    from ingestion.incremental import _run_quarantine

    rows = _run_quarantine([], [("tickets", "zendesk/tickets/page-0001.json")]).rows()
    assert rows == [
        (
            "tickets",
            "zendesk/tickets/page-0001.json",
            None,
            "unsupported_format",
            "no export day in the key: not read",
        )
    ]


# --- a run killed between its writes ------------------------------------------------------------


class Killed(RuntimeError):
    """Stands for the process dying at that point."""


def _kill_at(monkeypatch: pytest.MonkeyPatch, method: str, call: int) -> None:
    """Make `Store.<method>` die on its `call`-th call (1-based) in this test."""
    real = getattr(Store, method)
    calls = {"n": 0}

    def dying(self: Store, *args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == call:
            raise Killed(f"killed in {method}")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, method, dying)


LANDING_V1 = {
    key("tickets", 2, "a"): csv_bytes([T1_V1]),
    key("ticket_events", 2, "e"): csv_bytes([event(event_id="E1"), event(event_id="E2")]),
}
LANDING_V2 = {
    key("tickets", 3, "b"): csv_bytes([T1_V2, T2]),
    key("ticket_events", 3, "f"): csv_bytes([event(event_id="E2", public="false"), event(event_id="E3")]),
}


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("replace_rows", 1),  # before the tickets change
        ("replace_rows", 2),  # tickets changed, events not
        ("replace_rejected", 2),  # both entities changed, their rejected rows half written
        ("write_ledger", 1),  # every table changed, the ledger not
    ],
)
@pytest.mark.parametrize("landing_moves", [False, True], ids=["same landing", "object deleted before rerun"])
def test_a_run_killed_between_its_writes_is_repaired_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str, call: int, landing_moves: bool
) -> None:
    """Whatever write a run dies after, the next run ends with the store built from scratch on
    the landing it sees (and the ledger counts of the objects read before follow)."""
    landing = MemoryStorage(dict(LANDING_V1))
    store = Store(str(tmp_path / "store"))
    ingest(landing, store, "r1")
    landing.objects.update(LANDING_V2)
    with monkeypatch.context() as mp:
        _kill_at(mp, method, call)
        with pytest.raises(Killed):
            ingest(landing, store, "r2")
    if landing_moves:
        del landing.objects[key("tickets", 3, "b")]
    ingest(landing, store, "r3")
    scratch = Store(str(tmp_path / "scratch"))
    ingest(MemoryStorage(dict(landing.objects)), scratch, "s")
    assert_same_store(store, scratch)


# --- what an audit reads while an ingest writes ------------------------------------------------


def test_an_audit_reads_the_store_as_the_last_finished_batch_left_it(tmp_path: Path) -> None:
    """An ingest commits each entity, then the ledger. An audit that starts between them (here:
    a batch whose ticket commit landed and whose ledger did not) reads the store at the versions
    the last ledger commit recorded, so it sees neither the new ticket version nor anything else
    of the half-written batch."""
    from warehouse.store import audit_inputs, day_inputs

    store = Store(str(tmp_path / "store"))
    landing = MemoryStorage(
        {key("tickets", 2, "a"): csv_bytes([T1_V1]), key("ticket_events", 2, "a"): csv_bytes([event()])}
    )
    ingest(landing, store, "r1")
    finished = store.snapshot()
    # Nothing half-written: the snapshot is the store now (calls: no object, no table).
    assert finished == {**store.versions(), "calls": -1}
    # The next batch's ticket commit, without its ledger commit (the ingest is still running).
    stored = store.scan("tickets").collect()
    newer = stored.with_columns(pl.lit("solved").alias("status"), pl.lit(999, pl.Int64).alias("source_id"))
    store._write("tickets", newer, "r2", mode="append")
    assert store.versions()["tickets"] == finished["tickets"] + 1
    assert store.snapshot() == finished
    day = date(2026, 3, 2)
    pinned = audit_inputs(store, day, day, store.snapshot()).tickets.collect()
    live = audit_inputs(store, day, day).tickets.collect()
    assert pinned["status"].to_list() == ["open"]
    assert sorted(live["status"].to_list()) == ["open", "solved"]
    files, _ = day_inputs(store, day, day, store.snapshot())
    assert files["object_key"].to_list() == [key("ticket_events", 2, "a"), key("tickets", 2, "a")]


def test_a_table_created_after_the_last_batch_is_read_as_empty(tmp_path: Path) -> None:
    """The first calls object arrives in a batch still being written: its table exists, the
    snapshot says it did not, and the audit reads no call."""
    from warehouse.store import NOT_CREATED, audit_inputs

    store = Store(str(tmp_path / "store"))
    ingest(MemoryStorage({key("tickets", 2, "a"): csv_bytes([T1_V1])}), store, "r1")
    assert store.snapshot()["calls"] == NOT_CREATED
    store._write("calls", store.scan("calls").collect(), "r2", mode="append")  # creates the table
    store._write(
        "calls", pl.DataFrame([{**call(), "source_id": 7}]).pipe(_as_stored, "calls"), "r2", mode="append"
    )
    day = date(2026, 3, 2)
    assert audit_inputs(store, day, day).calls.collect().height == 1
    assert audit_inputs(store, day, day, store.snapshot()).calls.collect().height == 0


def _as_stored(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Raw test rows in a store table's schema (what an ingest would write)."""
    from catalogue import STORE_TABLES

    schema = STORE_TABLES[entity].schema
    typed = frame.select(
        [
            (
                pl.col(c).str.to_datetime(time_zone="UTC")
                if schema[c] == pl.Datetime("us", "UTC")
                else pl.col(c)
            )
            if c in frame.columns
            else pl.lit(None).alias(c)
            for c in schema.names()
        ]
    )
    return typed.with_columns(
        pl.lit(date(2026, 3, 2)).alias("record_date"), pl.lit("kept").alias("dedup_outcome")
    ).cast(schema)


def test_after_a_rebuild_empties_the_ledger_an_audit_reads_an_empty_store(tmp_path: Path) -> None:
    from warehouse.store import NOT_CREATED, day_inputs

    store = Store(str(tmp_path / "store"))
    ingest(MemoryStorage({key("tickets", 2, "a"): csv_bytes([T1_V1])}), store, "r1")
    rebuild(store)
    snapshot = store.snapshot()
    assert {name: v for name, v in snapshot.items() if name != "ingest_ledger"} == dict.fromkeys(
        ("tickets", "ticket_events", "calls", "rejected_rows"), NOT_CREATED
    )
    files, _ = day_inputs(store, date(2026, 3, 2), date(2026, 3, 2), snapshot)
    assert files.height == 0


# --- what an audit day reads: each key as its export range delivered it -----------------------

T9 = {"ticket_id": "T9", "created_at": "2026-03-02T09:00:00Z"}
T9_OPEN = ticket(**T9, updated_at="2026-03-02T10:00:00Z", status="open", priority="low")
T9_SOLVED = ticket(
    **T9,
    updated_at="2026-03-05T10:00:00Z",
    status="solved",
    solved_at="2026-03-05T10:00:00Z",
    priority="normal",
)
T9_SAME_TIME_LATER_NAME = {**T9_SOLVED, "priority": "high"}  # day 5, file "b"
T9_SAME_TIME_LATER_DAY = {**T9_SOLVED, "priority": "urgent"}  # day 6
T9_RATED = {**T9_SOLVED, "updated_at": "2026-03-20T10:00:00Z", "csat_score": "2"}
E9 = event(event_id="E9", ticket_id="T9", occurred_at="2026-03-02T09:30:00Z")


@pytest.fixture(scope="module")
def versioned_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """T9 in five versions over four export days, one of them re-delivered late; E9 delivered
    on day 2 and again on day 22."""
    store = Store(str(tmp_path_factory.mktemp("versions") / "store"))
    landing = MemoryStorage(
        {
            key("tickets", 2, "a"): csv_bytes([T9_OPEN]),
            key("ticket_events", 2, "a"): csv_bytes([E9]),
            key("tickets", 5, "a"): csv_bytes([T9_SOLVED]),
            key("tickets", 5, "b"): csv_bytes([T9_SAME_TIME_LATER_NAME]),
            key("tickets", 6, "a"): csv_bytes([T9_SAME_TIME_LATER_DAY]),
            key("tickets", 20, "a"): csv_bytes([T9_RATED]),
            key("tickets", 22, "a"): csv_bytes([T9_OPEN]),  # the old version, delivered again
            key("ticket_events", 22, "a"): csv_bytes([E9]),
        }
    )
    ingest(landing, store, "r1")
    return store


@pytest.mark.parametrize(
    ("delivered", "expected"),
    [
        ((2, 4), ("open", "low", None, date(2026, 3, 2))),
        ((2, 5), ("solved", "high", None, date(2026, 3, 5))),  # same updated_at: the later name
        ((2, 10), ("solved", "urgent", None, date(2026, 3, 6))),  # then the later export day
        ((15, 21), ("solved", "normal", 2, date(2026, 3, 20))),
        ((21, 25), ("open", "low", None, date(2026, 3, 22))),  # only the re-delivery is in range
        ((7, 19), None),  # no object of the range delivered T9
        (None, ("solved", "normal", 2, date(2026, 3, 20))),  # the store's current row
    ],
    ids=str,
)
def test_an_audit_day_reads_each_ticket_as_its_export_range_delivered_it(
    versioned_store: Store, delivered: tuple[int, int] | None, expected: tuple[object, ...] | None
) -> None:
    """The spec's day reads the exports D - look-back .. D + look-ahead and de-duplicates them:
    a ticket changed again after that range (a CSAT score given later) is read as the range had
    it, by the contract's ranking among the range's copies."""
    from warehouse.store import audit_inputs

    span = None if delivered is None else tuple(date(2026, 3, d) for d in delivered)
    tickets = audit_inputs(versioned_store, date(2026, 3, 1), date(2026, 3, 25), delivered=span).tickets
    rows = tickets.select("status", "priority", "csat_score", "export_date").collect().rows()
    assert rows == ([] if expected is None else [expected])


@pytest.mark.parametrize(("delivered", "export_day"), [((1, 3), 2), ((21, 25), 22), ((7, 19), None)], ids=str)
def test_an_event_first_delivered_before_the_range_is_read_from_its_delivery_in_it(
    versioned_store: Store, delivered: tuple[int, int], export_day: int | None
) -> None:
    from warehouse.store import audit_inputs

    span = (date(2026, 3, delivered[0]), date(2026, 3, delivered[1]))
    events = audit_inputs(versioned_store, date(2026, 3, 1), date(2026, 3, 25), delivered=span).ticket_events
    rows = events.select("event_id", "export_date").collect().rows()
    assert rows == ([] if export_day is None else [("E9", date(2026, 3, export_day))])


def test_a_folder_file_rewritten_with_its_old_size_and_modification_time_is_read_again(
    tmp_path: Path,
) -> None:
    """`cp -p`, `rsync -t` or a tar archive restore a file's modification time: a re-delivery of
    the same length under the same key is still seen (its status-change time moved) and read."""
    import os

    from storage import LocalStorage

    root = tmp_path / "landing"
    landing = LocalStorage(str(root))
    name = key("tickets", 2, "a")
    landing.write_bytes(name, csv_bytes([ticket(assignee_id="agent-5")]))
    store = Store(str(tmp_path / "store"))
    ingest_to_store(landing, store, run_id="r1")
    before = os.stat(root / name)
    landing.write_bytes(name, csv_bytes([ticket(assignee_id="agent-6")]))
    os.utime(root / name, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(root / name)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    report = ingest_to_store(landing, store, run_id="r2")
    assert report.objects_read["object_key"].to_list() == [name]
    assert store.canonical("tickets").collect()["assignee_id"].to_list() == ["agent-6"]
    settled = ingest_to_store(landing, store, run_id="r3")
    assert settled.objects_read.is_empty() and settled.unchanged == 1


def test_a_conflicting_re_delivery_is_never_a_days_row(tmp_path: Path) -> None:
    """E8 first delivered on day 2, then with other content on day 22: the second copy is a
    conflicting duplicate, quarantined (and listed in the day's quarantine), so a day whose range
    holds only day 22 reads no E8 rather than the quarantined copy."""
    from warehouse.store import audit_inputs

    store = Store(str(tmp_path / "store"))
    landing = MemoryStorage(
        {
            key("ticket_events", 2, "a"): csv_bytes([event(event_id="E8", public="true")]),
            key("ticket_events", 22, "a"): csv_bytes([event(event_id="E8", public="false")]),
        }
    )
    ingest(landing, store, "r1")
    outcomes = (
        store.scan("ticket_events").select("export_date", "dedup_outcome").sort("export_date").collect()
    )
    assert outcomes.rows() == [(date(2026, 3, 2), "kept"), (date(2026, 3, 22), "conflict")]
    late = (date(2026, 3, 21), date(2026, 3, 25))
    events = audit_inputs(store, date(2026, 3, 1), date(2026, 3, 25), delivered=late).ticket_events.collect()
    assert events.is_empty()
    early = (date(2026, 3, 1), date(2026, 3, 25))
    events = audit_inputs(store, date(2026, 3, 1), date(2026, 3, 25), delivered=early).ticket_events.collect()
    assert events.select("event_id", "public").rows() == [("E8", True)]


def test_a_day_reads_every_row_its_export_range_delivered_whatever_the_rows_own_day(
    tmp_path: Path,
) -> None:
    """An assignment made in January and delivered in March's export (a history re-export, a late
    backfill), and a call record revised long after the call, are part of a March day's input
    (docs/metrics.md: a day reads the exports D - look-back .. D + look-ahead), although their
    own days are far outside the day's windows. Rows of those old days that other objects
    delivered are not read; a row exported in range whose day is after the window is."""
    from warehouse.store import audit_inputs

    store = Store(str(tmp_path / "store"))
    old_assignment = event(
        event_id="E_OLD",
        occurred_at="2026-01-05T10:05:00Z",
        event_type="assignment",
        actor_role="system",
        assignee_id="a1",
    )
    landing = MemoryStorage(
        {
            "ticket_events/export_date=2026-01-05/a.csv": csv_bytes(
                [event(event_id="E_BG", occurred_at="2026-01-05T09:00:00Z")]
            ),
            "calls/export_date=2026-01-10/a.csv": csv_bytes(
                [
                    call(
                        call_id="K_BG",
                        initiated_at="2026-01-10T10:00:00Z",
                        answered_at=None,
                        ended_at="2026-01-10T10:02:00Z",
                        updated_at="2026-01-10T10:02:00Z",
                    )
                ]
            ),
            key("ticket_events", 3, "a"): csv_bytes(
                [event(event_id="E_FAR", occurred_at="2026-03-03T09:00:00Z")]
            ),
            key("ticket_events", 20, "a"): csv_bytes(
                [
                    old_assignment,
                    event(event_id="E_NEW", occurred_at="2026-03-20T09:00:00Z"),
                    event(event_id="E_NEXT", occurred_at="2026-03-21T09:00:00Z"),
                ]
            ),
            key("calls", 20, "a"): csv_bytes(
                [
                    call(
                        call_id="K_OLD",
                        initiated_at="2026-01-10T11:00:00Z",
                        answered_at="2026-01-10T11:01:00Z",
                        ended_at="2026-01-10T11:09:00Z",
                        updated_at="2026-03-20T08:00:00Z",
                    )
                ]
            ),
        }
    )
    ingest(landing, store, "r1")
    march = (date(2026, 3, 15), date(2026, 3, 25))
    tables = audit_inputs(store, date(2026, 3, 14), date(2026, 3, 26), delivered=march)
    events = tables.ticket_events.select("event_id").collect()["event_id"].sort().to_list()
    assert events == ["E_NEW", "E_NEXT", "E_OLD"]
    assert tables.calls.select("call_id").collect()["call_id"].to_list() == ["K_OLD"]
    # The window's last day bounds nothing either: a row after it, delivered in range, is read.
    to_the_20th = audit_inputs(store, date(2026, 3, 14), date(2026, 3, 20), delivered=march)
    events = to_the_20th.ticket_events.select("event_id").collect()["event_id"].sort().to_list()
    assert events == ["E_NEW", "E_NEXT", "E_OLD"]
    january = (date(2026, 1, 1), date(2026, 1, 12))
    tables = audit_inputs(store, date(2025, 12, 31), date(2026, 1, 13), delivered=january)
    assert tables.ticket_events.select("event_id").collect()["event_id"].to_list() == ["E_BG"]
    assert tables.calls.select("call_id").collect()["call_id"].to_list() == ["K_BG"]


def test_is_folder_record_picks_the_records_folder_quarantine_writes() -> None:
    from ingestion.ingest import folder_quarantine, is_folder_record

    folders = folder_quarantine(["tickets/export_date=2026-3-5/"], "tickets")
    assert folders.filter(is_folder_record()).height == 1
    other = folders.with_columns(pl.lit("tickets/x.csv").alias("object_key"))  # a whole file
    assert other.filter(is_folder_record()).height == 0
