"""A backfill on a Dask cluster (flows/cluster.py): the same tables as the serial backfill.

The integration test runs a backfill serially (the quickstart's week), and four of its days again
on a `LocalCluster` of two worker processes (each with its own Prefect task runs and leases),
then compares every published table of the four days row for row.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from flow_fixtures import keyed_artifacts
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from catalogue import AUDIT_TABLES
from flows import daily
from flows.cli import app
from flows.cluster import ClusterSpec, parse_cluster, polars_threads
from warehouse.delta import read_table


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("local", ClusterSpec(workers=8)),
        ("local:3", ClusterSpec(workers=3)),
        (" local:1 ", ClusterSpec(workers=1)),
        ("tcp://scheduler:8786", ClusterSpec(address="tcp://scheduler:8786")),
        ("tls://10.0.0.5:8786", ClusterSpec(address="tls://10.0.0.5:8786")),
    ],
)
def test_a_cluster_is_local_with_n_workers_or_a_scheduler_address(value: str, spec: ClusterSpec) -> None:
    assert parse_cluster(value, cores=8) == spec


@pytest.mark.parametrize("value", ["local:0", "local:two", "remote", "http://scheduler:8786", "local:-1"])
def test_anything_else_is_refused_with_the_accepted_forms(value: str) -> None:
    with pytest.raises(ValueError, match="local"):
        parse_cluster(value)


@pytest.mark.parametrize(("workers", "cores", "threads"), [(2, 2, 1), (2, 8, 4), (3, 8, 2), (4, 2, 1)])
def test_workers_times_polars_threads_match_the_cores(workers: int, cores: int, threads: int) -> None:
    assert polars_threads(workers, cores) == threads


def test_a_bad_cluster_is_exit_2_before_any_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(daily, "backfill", lambda **kw: calls.append(kw))
    args = ["backfill", "--start", "2026-03-01", "--end", "2026-03-02", "--cluster", "local:zero"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "local:N" in result.stderr
    assert calls == []


PROGRESS = "support-audit-backfill-progress"


def published(warehouse: str, settings: Any, days: list[date]) -> dict[str, pl.DataFrame]:
    """Every audit table's rows of these days, without the run id (each backfill has its own)."""
    out = {}
    for name in AUDIT_TABLES:
        frames = [read_table(warehouse, name, settings, audit_date=day) for day in days]
        frame = pl.concat(frames, how="vertical_relaxed").drop("run_id")
        out[name] = frame.sort(frame.columns, nulls_last=True)
    return out


@pytest.mark.integration
@pytest.mark.xdist_group("prefect-quickstart")
def test_a_backfill_on_a_local_cluster_publishes_the_same_tables_as_a_serial_one(
    quickstart_run: tuple[Path, str], audit_env: str, tmp_path: Path
) -> None:
    """Four days of the quickstart's week (a serial backfill) again on a two-worker cluster,
    from a copy of the same landing with its own ingest (the ingest report travels to the
    workers) and warehouse. Folders, not the S3 endpoint: the flow tests on S3 cover the
    storage path, and the suite must stay under 15 minutes (four days, not six: every day on
    the cluster is a full audit, report included, and the comparison is per day)."""
    import shutil

    quickstart, _ = quickstart_run
    days = [date(2026, 3, 6) + timedelta(days=i) for i in range(4)]
    shutil.copytree(
        quickstart / "landing", tmp_path / "landing", ignore=shutil.ignore_patterns("_quarantine")
    )
    places = {name: str(tmp_path / name) for name in ("landing", "warehouse", "reports")}
    results = daily.backfill(start=days[0], end=days[-1], cluster="local:2", **places)
    assert [r["audit_date"] for r in results] == [d.isoformat() for d in days]
    expected = published(str(quickstart / "warehouse"), None, days)
    got = published(places["warehouse"], None, days)
    for name in AUDIT_TABLES:
        assert got[name].height == expected[name].height, name
        assert_frame_equal(got[name], expected[name], check_row_order=True)
    assert expected["agent_scorecard"].height > 0
    # Every day has its Data Docs in the runs index, rebuilt once after the fan-out.
    index = (tmp_path / "reports" / "data_docs" / "index.html").read_text()
    for day in days:
        assert day.isoformat() in index
    # Both backfills showed their progress: a bar at 100% and the last day's line.
    lines = [(a.data, a.description) for a in keyed_artifacts(PROGRESS) if ": " in (a.description or "")]
    bars = {(data, line.split(": ", 1)[1].split(",")[0]) for data, line in lines}
    assert {(100.0, "4/4 days"), (100.0, "7/7 days")} <= bars


@pytest.mark.integration
@pytest.mark.xdist_group("prefect-quickstart")
def test_a_local_cluster_runs_tasks_in_worker_processes_with_their_share_of_polars_threads(
    prefect_harness: None,
) -> None:
    import os

    from prefect import flow, task

    from flows.cluster import task_runner

    @task
    def where() -> tuple[int, int]:
        import polars

        return os.getpid(), polars.thread_pool_size()

    @flow(task_runner=task_runner(ClusterSpec(workers=2)))
    def probe() -> list[tuple[int, int]]:
        return [f.result() for f in [where.submit() for _ in range(4)]]

    seen = probe()
    assert all(pid != os.getpid() for pid, _ in seen)  # never in the flow's own process
    assert {threads for _, threads in seen} == {polars_threads(2)}
