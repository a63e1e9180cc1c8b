"""One audit day publishes atomically (warehouse/publication.py, docs/auditing.md).

A day published by run r1 is published again by r2, in a process of its own
(publish_child.py) that is SIGKILLed right after each commit point in turn: its intent row
and each table commit. After every kill, a reader through the publish point sees r1's whole
day; the next run's repair puts every table back to r1 and closes r2's attempt; the run
after publishes its own whole day. A stalled writer keeps a second run of its day out.
"""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import publish_child
import pytest
import sample_frames as s
from deltalake import DeltaTable
from publish_child import publish_sample_day

from catalogue import AUDIT_TABLES
from configs.settings import load_settings
from warehouse.delta import day_attempt, read_table, table_uri
from warehouse.lock import LockHeld
from warehouse.publication import (
    UP_TO_DATE_COLUMNS,
    DayInputsKey,
    manifest_rows,
    publish_points,
    read_published,
    repair_day,
    up_to_date_days,
    whole_at_point,
)

# One worker runs the module, so its module fixture is built once (not once per xdist worker).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("publication")]

CHILD = Path(__file__).with_name("publish_child.py")
COMMIT_POINTS = ("intent", *(str(n) for n in range(1, len(AUDIT_TABLES) + 1)))
CHILD_TIMEOUT = 180


def publish(warehouse: Path, run_id: str, **overrides) -> None:
    settings = load_settings(
        warehouse_uri=str(warehouse), reports_uri=str(warehouse.parent / "reports"), **overrides
    )
    publish_sample_day(settings, run_id)


# Each child is a process of its own (SIGKILLed or stalled at its commit point), forked from a
# fork server that imports publish_child (Polars, Delta, Great Expectations) once: a new
# interpreter per child spent most of its time importing them again.
FORK_SERVER = multiprocessing.get_context("forkserver")
FORK_SERVER.set_forkserver_preload(["publish_child", "expectations.gate"])


@pytest.fixture(scope="module", autouse=True)
def fork_server() -> Iterator[None]:
    """Stop the fork server after the module: reaped, so its children's CPU time counts as this
    process's (as the interpreters it replaces did), and its memory is freed."""
    yield
    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # type: ignore[attr-defined]


class Child:
    """publish_child.main in a forked process, with the few Popen calls the tests use."""

    def __init__(self, warehouse: Path, args: list[str]) -> None:
        self.log = Path(f"{warehouse}.child.log")
        self.process = FORK_SERVER.Process(
            target=publish_child.run_logged, args=(str(self.log), str(Path(__file__).parents[2]), *args)
        )
        self.process.start()

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return self.process.exitcode

    def communicate(self, timeout: float) -> tuple[bytes, None]:
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired(str(CHILD), timeout)
        return (self.log.read_bytes() if self.log.exists() else b""), None

    def kill(self) -> None:
        if self.process.exitcode is None:
            self.process.kill()
        self.process.join(CHILD_TIMEOUT)


def child(warehouse: Path, run_id: str, mode: str, commit: str) -> Child:
    reports = warehouse.parent / "reports"
    return Child(warehouse, [str(warehouse), str(reports), run_id, mode, commit])


def inputs_key(warehouse: Path, run_id: str) -> DayInputsKey:
    """What `run_id`'s succeeded row says its day was made from."""
    manifest = manifest_rows(str(warehouse), None, columns=UP_TO_DATE_COLUMNS)
    row = manifest.filter((manifest["run_id"] == run_id) & (manifest["status"] == "succeeded")).row(
        0, named=True
    )
    versions = {v["table"]: v["version"] for v in row["store_versions"] or []}
    return DayInputsKey(versions, row["config_hash"], row["code_version"], row["pseudonym_key_id"])


def up_to_date(warehouse: Path, key: DayInputsKey) -> dict[str, str]:
    """Day -> publishing run of the days `audit backfill --resume` would leave alone."""
    days = up_to_date_days(manifest_rows(str(warehouse), None, columns=UP_TO_DATE_COLUMNS), key)
    days = whole_at_point(str(warehouse), None, days)
    return {str(day): found.run_id for day, found in days.items()}


def run_ids(warehouse: Path, name: str, live: bool) -> set[str]:
    read = read_table if live else read_published
    return set(read(str(warehouse), name, audit_date=s.DAY)["run_id"])


def statuses(warehouse: Path) -> list[tuple[str, str]]:
    manifest = manifest_rows(str(warehouse), None).sort("attempt", "finished_at", nulls_last=False)
    return manifest.select("run_id", "status").rows()


@pytest.fixture(scope="module")
def published_by_r1(tmp_path_factory) -> Path:
    warehouse = tmp_path_factory.mktemp("base") / "warehouse"
    publish(warehouse, "r1")
    return warehouse


@pytest.fixture(scope="module")
def killed(published_by_r1, tmp_path_factory) -> dict[str, Path]:
    """One copy of r1's warehouse per commit point, each with r2 SIGKILLed right after it
    (two children at a time: the box has two cores)."""
    copies, done = {}, {}
    for point in COMMIT_POINTS:
        copies[point] = tmp_path_factory.mktemp(f"killed-{point}") / "warehouse"
        shutil.copytree(published_by_r1, copies[point])
    pending = list(COMMIT_POINTS)
    while pending:
        batch, pending = pending[:2], pending[2:]
        procs = {p: child(copies[p], "r2", "kill", p) for p in batch}
        for point, proc in procs.items():
            out, _ = proc.communicate(timeout=CHILD_TIMEOUT)
            assert proc.returncode == -9, f"{point}: the child was not killed:\n{out.decode()[-2000:]}"
            done[point] = copies[point]
    return done


@pytest.mark.parametrize("point", COMMIT_POINTS)
def test_a_kill_at_any_commit_point_leaves_the_published_day_whole(killed, point):
    warehouse = killed[point]
    committed = 0 if point == "intent" else int(point)
    # The live tables are mixed: the first `committed` tables are r2's, the rest still r1's.
    for i, name in enumerate(AUDIT_TABLES):
        if s.metric_outputs().get(name, s.quarantine()).height:
            assert run_ids(warehouse, name, live=True) == ({"r2"} if i < committed else {"r1"}), name
    # Through the publish point the day is r1's, whole, in every table.
    for name in AUDIT_TABLES:
        assert run_ids(warehouse, name, live=False) <= {"r1"}, name
        assert (
            read_published(str(warehouse), name, audit_date=s.DAY).height
            == read_table(str(warehouse), name, version=0, audit_date=s.DAY).height
        )
    assert statuses(warehouse)[-1] == ("r2", "publishing")  # the intent, never closed
    # A resumed backfill audits the day again (which repairs it), though r1 made it from the
    # same inputs: an attempt after the publish point was never closed.
    assert up_to_date(warehouse, inputs_key(warehouse, "r1")) == {}


@pytest.mark.parametrize("point", COMMIT_POINTS)
def test_the_next_run_repairs_the_day_then_publishes_its_own(killed, point, tmp_path):
    warehouse = tmp_path / "warehouse"
    shutil.copytree(killed[point], warehouse)
    repair = repair_day(str(warehouse), s.DAY, run_id="r3")
    committed = 0 if point == "intent" else int(point)
    assert set(repair.restored) == set(AUDIT_TABLES[:committed])
    assert len(repair.rolled_back) == 1
    r1 = publish_points(manifest_rows(str(warehouse), None))[s.DAY]
    for name in AUDIT_TABLES:
        table = DeltaTable(table_uri(str(warehouse), name))
        assert day_attempt(table, s.DAY) == r1.attempt, name
        assert run_ids(warehouse, name, live=True) <= {"r1"}, name
        assert read_table(str(warehouse), name, audit_date=s.DAY).equals(
            read_table(str(warehouse), name, version=r1.versions[name], audit_date=s.DAY)
        )
    assert statuses(warehouse)[-1] == ("r2", "rolled_back")
    assert not repair_day(str(warehouse), s.DAY, run_id="r3").changed  # repaired once, stays so
    # Repaired, the day is r1's again: with r1's inputs, a resumed backfill leaves it alone.
    assert up_to_date(warehouse, inputs_key(warehouse, "r1")) == {str(s.DAY): "r1"}
    history = DeltaTable(table_uri(str(warehouse), AUDIT_TABLES[0])).history(1)[0]
    if committed:
        assert (history["action"], history["repair_run"]) == ("repair", "r3")

    publish(warehouse, "r3")
    for name in AUDIT_TABLES:
        if read_table(str(warehouse), name, audit_date=s.DAY).height:
            assert run_ids(warehouse, name, live=True) == run_ids(warehouse, name, live=False) == {"r3"}
    assert statuses(warehouse)[-1] == ("r3", "succeeded")


def test_a_second_run_of_a_day_being_written_is_refused_and_never_mixes(published_by_r1, tmp_path):
    warehouse = tmp_path / "warehouse"
    shutil.copytree(published_by_r1, warehouse)
    stalled = child(warehouse, "r2", "stall", "2")
    try:
        deadline = time.monotonic() + CHILD_TIMEOUT
        while not Path(f"{warehouse}.stalled").exists():
            assert stalled.poll() is None and time.monotonic() < deadline, "the writer never stalled"
            time.sleep(0.2)
        with pytest.raises(LockHeld, match=r"audit-day-.* is being written by run r2 on .* \(pid \d+\)"):
            publish(warehouse, "r3")
        # Meanwhile readers see r1's day whole, though two tables are already r2's.
        assert run_ids(warehouse, AUDIT_TABLES[0], live=True) == {"r2"}
        assert all(run_ids(warehouse, n, live=False) <= {"r1"} for n in AUDIT_TABLES)
        Path(f"{warehouse}.go").touch()
        out, _ = stalled.communicate(timeout=CHILD_TIMEOUT)
        assert stalled.returncode == 0, out.decode()[-2000:]
    finally:
        stalled.kill()
    for name in AUDIT_TABLES:
        if read_table(str(warehouse), name, audit_date=s.DAY).height:
            assert run_ids(warehouse, name, live=False) == {"r2"}, name
    assert [st for run, st in statuses(warehouse) if run == "r3"] == []  # the refused run wrote nothing
    assert statuses(warehouse)[-1] == ("r2", "succeeded")


def test_audit_repair_puts_a_killed_day_back_and_says_what_it_did(killed, tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app

    warehouse = tmp_path / "warehouse"
    shutil.copytree(killed["3"], warehouse)
    runner = CliRunner()
    repaired = runner.invoke(app, ["repair", "--date", s.DAY.isoformat(), "--warehouse", str(warehouse)])
    assert repaired.exit_code == 0, repaired.output
    assert repaired.stdout == (
        f"{s.DAY}: restored {', '.join(AUDIT_TABLES[:3])} to the last published run; "
        "1 unfinished attempt(s) marked rolled_back\n"
    )
    for name in AUDIT_TABLES:
        assert run_ids(warehouse, name, live=True) <= {"r1"}, name
    again = runner.invoke(app, ["repair", "--warehouse", str(warehouse)])  # every day of the manifest
    assert again.exit_code == 0 and again.stdout == f"{s.DAY}: consistent, nothing to repair\n"


def test_a_rolled_back_attempts_late_succeeded_row_never_becomes_the_publish_point():
    import datetime as dt

    import polars as pl

    day = s.DAY

    def row(run: str, attempt: int, status: str, minute: int) -> dict:
        versions = [{"table": "agent_scorecard", "version": attempt, "rows": 1}]
        return {
            "audit_date": day,
            "run_id": run,
            "status": status,
            "attempt": attempt,
            "finished_at": dt.datetime(2026, 11, 21, 6, minute, tzinfo=dt.UTC),
            "tables": versions if status == "succeeded" else [],
        }

    # r1 published at 06:01; r2 stalled, was rolled back at 06:05 by r3 (published 06:06),
    # then woke and wrote its succeeded row at 06:09.
    manifest = pl.DataFrame(
        [
            row("r1", 1, "succeeded", 1),
            row("r2", 2, "rolled_back", 5),
            row("r3", 3, "succeeded", 6),
            row("r2", 2, "succeeded", 9),
        ]
    )
    point = publish_points(manifest)[day]
    assert (point.run_id, point.attempt, point.versions) == ("r3", 3, {"agent_scorecard": 3})


def test_a_day_a_late_writer_committed_to_after_its_rollback_is_not_up_to_date(published_by_r1, tmp_path):
    """A writer rolled back while stalled may still land a commit: the manifest still says the
    day is r1's, but one live table is not, so `--resume` audits the day (which repairs it)."""
    from warehouse.delta import publish_table

    warehouse = tmp_path / "warehouse"
    shutil.copytree(published_by_r1, warehouse)
    key = inputs_key(warehouse, "r1")
    assert up_to_date(warehouse, key) == {str(s.DAY): "r1"}
    name = AUDIT_TABLES[0]
    rows = read_table(str(warehouse), name, audit_date=s.DAY)
    late = rows.with_columns(pl.lit("r2").alias("run_id"))
    publish_table(
        name, late, warehouse_uri=str(warehouse), audit_date=s.DAY, run_id="r2", policy_version="p", attempt=2
    )
    assert run_ids(warehouse, name, live=True) == {"r2"}
    assert up_to_date(warehouse, key) == {}  # the manifest alone would still say r1's
    repair_day(str(warehouse), s.DAY, run_id="r3")
    assert up_to_date(warehouse, key) == {str(s.DAY): "r1"}


def test_the_publish_point_follows_attempts_not_the_clocks_of_hosts():
    """r1 ran on a host whose clock is ten minutes ahead; r2 ran after it (its attempt is past
    r1's: `new_attempt` under the day's lease) on a host with a right clock, so r2's finish time
    reads earlier. The day is r2's; and a legacy row (no attempt) is older than both."""
    import datetime as dt

    import polars as pl

    from warehouse.publication import new_attempt

    def row(run: str, attempt: int | None, minute: int) -> dict:
        return {
            "audit_date": s.DAY,
            "run_id": run,
            "status": "succeeded",
            "attempt": attempt,
            "finished_at": dt.datetime(2026, 11, 21, 6, minute, tzinfo=dt.UTC),
            "tables": [{"table": "agent_scorecard", "version": minute, "rows": 1}],
        }

    r1_attempt = time.time_ns() + 600 * 10**9  # the fast clock
    r2_attempt = new_attempt(after=r1_attempt)
    assert r2_attempt == r1_attempt + 1
    manifest = pl.DataFrame([row("legacy", None, 30), row("r1", r1_attempt, 15), row("r2", r2_attempt, 7)])
    assert publish_points(manifest)[s.DAY].run_id == "r2"


def test_a_run_after_a_fast_clocked_run_takes_a_later_attempt(published_by_r1, tmp_path):
    """The next publish reads the day's attempts under the lease and goes past them."""
    import datetime as dt

    import polars as pl

    from warehouse.delta import append_manifest

    warehouse = tmp_path / "warehouse"
    shutil.copytree(published_by_r1, warehouse)
    manifest = manifest_rows(str(warehouse), None)
    ahead = manifest.filter(pl.col("status") == "succeeded").with_columns(
        pl.lit("r-fast", pl.String).alias("run_id"),
        pl.lit(time.time_ns() + 3600 * 10**9, pl.Int64).alias("attempt"),
        pl.lit(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).alias("finished_at"),
    )
    append_manifest(ahead.select(manifest.columns), warehouse_uri=str(warehouse))
    repair_day(str(warehouse), s.DAY, run_id="repair")  # the tables follow the fast run's point
    publish(warehouse, "r2")
    point = publish_points(manifest_rows(str(warehouse), None))[s.DAY]
    assert point.run_id == "r2"
    assert point.attempt > int(ahead["attempt"][0])
    assert run_ids(warehouse, "agent_scorecard", live=False) == {"r2"}
