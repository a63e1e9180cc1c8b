"""Benchmark a large centre on the canonical store: `make bench` / `python -m bench.run_bench`.

1. Generates the workload once into `.bench-cache/large/landing/` (1,000 agents, 50k tickets/day
   with about 5 events each, 30k calls/day, 42 export days, Parquet).
2. **Cold ingest**: every export object into an empty store, as `audit ingest` does
   (`flows.ingest.ingest_exports`: read, stage, merge, input suites per batch, Data Docs).
3. **The audit day's transforms on the store**: `run_audit` over the store's windows for the
   flow's default day (newest export day - 3), every table collected.
4. **Warm daily run**, end to end against a running Prefect server (started here on 127.0.0.1):
   a store holding every export day but the newest is prepared (not timed), the newest export day
   lands, and `audit run` runs as a user runs it: one ingest, then the scheduled days' audits
   (newest - 3 and the refresh of newest - 7), validation, publishing, reports. Per-phase times
   come from the run's task runs in the Prefect API; the CPU of its processes gives the least
   wall time this box's cores allow. Beside the ingest's figure, its fixed part: the input
   validation before it reads a row, in a fresh process (`validation_floor`).
5. **Backfill from the store**: `audit backfill --no-ingest` of the 28 days ending on the default
   day (from the first export day on, for a smaller workload), against the same server;
   per-day cost and a 365-day estimate. Then the same days on a local Dask cluster of two
   workers (`--cluster local:2`), reported beside it with the peak RSS and CPU of each process
   (the flow's and each worker's, bench/procs.py).
6. **Cross-check**: follow-up evidence and concession-rate cells for the default day, from the
   store's windows, in Polars (the production path) and in DuckDB SQL (`bench/duckdb_sql.py`),
   compared row for row and timed.

Each measurement runs in its own process, so peak RSS is that step's alone; the box's load
average is printed beside every figure. Targets (issue: the incremental canonical store):

- warm daily run <= 1.5 x its own transform time, <= 4 GB peak RSS;
- ingest + input validation of one new export day <= 25% of one day's transforms;
- backfill per day <= 1.3 x one audit day's transforms, 365 days <= 1.5 h;
- Polars transforms on the store <= 1.0 x DuckDB on the same metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

# BENCH_SIZE=small runs the same code on a 20-agent, 10-day workload (a quick smoke test).
SIZE = os.environ.get("BENCH_SIZE", "large")
CACHE = Path(".bench-cache") / SIZE
LANDING = CACHE / "landing"
OUT = CACHE / "out"
COLD = CACHE / "cold"  # the cold ingest's warehouse (its store under _canonical)
WARM = CACHE / "warm"  # the warm run: warehouse, reports
PREPARED = CACHE / "prepared-store"  # every export day but the newest, ingested once
# The prepared store's landing (hard links), kept: the warm run adds the newest day to it. A new
# link to a file changes its status-change time, which a folder's fingerprint holds, so the warm
# run must read the very files the prepared ledger saw, not fresh links to them.
PREPARED_LANDING = CACHE / "landing-without-newest"
# The last transforms figure of the bench day, kept for `make bench-vendors`, whose target is a
# share of the same day's transform time.
TRANSFORMS_FIGURE = CACHE / "transforms.json"
ENTITIES = ("tickets", "ticket_events", "calls")
BACKFILL_DAYS = 28
TRANSFORM_TARGET_SECONDS, TRANSFORM_TARGET_GB = 15.0, 4.0
WARM_RATIO, WARM_GB, INGEST_SHARE, BACKFILL_RATIO, YEAR_HOURS = 1.5, 4.0, 0.25, 1.3, 1.5
KEY = "bench-pseudonym-key-" + "0" * 24


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


# --- workload -----------------------------------------------------------------------------------


def ensure_workload() -> None:
    """Generate the exports once (devtools/sample_data), unless the cache already holds them."""
    from devtools.sample_data import GeneratorConfig, ensure_benchmark_exports, ensure_exports

    started = time.perf_counter()
    if SIZE == "small":
        small = GeneratorConfig(
            end_date=date(2026, 3, 31), days=10, agents=20, bad_row_share=0.0, formats=("parquet",)
        )
        ensure_exports(LANDING, small)
    else:
        ensure_benchmark_exports(LANDING)
    print(f"workload ready in {LANDING} ({time.perf_counter() - started:.0f} s)", flush=True)


def export_days() -> list[str]:
    return sorted({p.name for p in (LANDING / "tickets").glob("export_date=*")})


def newest_export_date() -> date:
    return date.fromisoformat(export_days()[-1].split("=", 1)[1])


def default_day() -> date:
    from configs.policy import load_policy
    from flows.windows import default_audit_date

    return default_audit_date(newest_export_date(), load_policy())


def backfill_days() -> list[date]:
    """The backfill's days: the 28 ending on the default day, from the first export day on (the
    small workload's 10 export days hold no contacts for the days before them)."""
    end = default_day()
    first = date.fromisoformat(export_days()[0].split("=", 1)[1])
    start = max(end - timedelta(days=BACKFILL_DAYS - 1), first)
    if start > end:
        raise SystemExit(f"no day to backfill: the first export day {first} is after the bench day {end}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _settings(warehouse: Path, landing: Path = LANDING, reports: Path | None = None) -> Any:
    from configs.settings import load_settings

    return load_settings(
        landing_uri=str(landing.resolve()),
        warehouse_uri=str(warehouse.resolve()),
        reports_uri=str((reports or warehouse.parent / "reports").resolve()),
    )


def _hardlink_landing(target: Path, skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """A copy of the landing made of hard links (instant, no space), without the `skip` days."""
    shutil.rmtree(target, ignore_errors=True)
    for entity in ENTITIES:
        for folder in sorted((LANDING / entity).glob("export_date=*")):
            if folder.name not in skip:
                shutil.copytree(folder, target / entity / folder.name, copy_function=os.link)


# --- child measurements -------------------------------------------------------------------------


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_gb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024 / 1024  # Linux reports KiB


@contextmanager
def _timed(out: dict[str, Any]) -> Iterator[None]:
    started, cpu = time.perf_counter(), _cpu_seconds()
    yield
    out["wall_seconds"] = round(time.perf_counter() - started, 2)
    out["cpu_seconds"] = round(_cpu_seconds() - cpu, 2)
    out["peak_rss_gb"] = round(_peak_rss_gb(), 2)
    out["load"] = load()


def measure_cold_ingest() -> dict[str, Any]:
    """Every export object into an empty store, with the input suites per batch (`audit ingest`)."""
    from configs.policy import load_policy
    from flows.ingest import ingest_exports

    shutil.rmtree(COLD, ignore_errors=True)
    out: dict[str, Any] = {}
    with _timed(out):
        report = ingest_exports(_settings(COLD / "warehouse"), load_policy(), "bench-cold")
    out.update(
        objects=report.objects_read.height,
        export_days=len(export_days()),
        rows={e: report.objects_read.filter(pl.col("entity") == e)["rows_read"].sum() for e in ENTITIES},
    )
    return out


def measure_transforms() -> dict[str, Any]:
    """One audit day's transforms on the cold store, as `flows.daily.compute_metrics` runs them."""
    from configs.policy import load_policy
    from flows.ingest import store_of
    from flows.windows import data_cutoff, export_range
    from transforms.audit import collect_audit, run_audit
    from transforms.contacts import AuditWindow
    from warehouse.store import audit_inputs

    policy, day = load_policy(), default_day()
    span = export_range(day, policy)
    store = store_of(_settings(COLD / "warehouse"))
    out: dict[str, Any] = {"audit_date": str(day)}
    with _timed(out):
        inputs = audit_inputs(
            store,
            span.start - timedelta(days=1),
            span.end + timedelta(days=1),
            delivered=(span.start, span.end),
        )
        window = AuditWindow(day, "UTC", data_cutoff(newest_export_date(), day, "UTC"))
        tables = collect_audit(run_audit(inputs, window, policy))
    (OUT / "transforms").mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.write_parquet(OUT / "transforms" / f"{name}.parquet")
    out["rows"] = {name: table.height for name, table in tables.items()}
    return out


def measure_prepare() -> dict[str, Any]:
    """The warm run's starting point: every export day but the newest, ingested once (reused)."""
    from configs.policy import load_policy
    from flows.ingest import ingest_exports

    newest = export_days()[-1]
    marker = PREPARED / f".{newest}.v2"  # v2: folder fingerprints hold the status-change time
    out: dict[str, Any] = {"reused": marker.exists()}
    if marker.exists():
        return out
    shutil.rmtree(PREPARED, ignore_errors=True)
    _hardlink_landing(PREPARED_LANDING, skip={newest})
    settings = _settings(CACHE / "prepare-warehouse", landing=PREPARED_LANDING)
    with _timed(out):
        ingest_exports(settings, load_policy(), "bench-prepare")
    shutil.move(settings.canonical_store_uri(), PREPARED)
    marker.touch()
    return out


def measure_validation_floor() -> dict[str, Any]:
    """What the input validation costs before it reads a row, in a fresh process as every flow
    run is one (Prefect starts each in a process of its own): importing Great Expectations and
    the suites, then the three input suites on one stored row each, with their Data Docs. The
    ingest's target (a share of a day's transforms) cannot be met if this alone exceeds it."""
    import tempfile

    frames = {entity: pl.scan_delta(str(PREPARED / entity)).head(1).collect() for entity in ENTITIES}
    out: dict[str, Any] = {}
    started = time.perf_counter()
    with _timed(out):
        from expectations import SuiteParams
        from expectations.gate import run_validation

        out["import_seconds"] = round(time.perf_counter() - started, 2)
        categories = sorted(frames["tickets"]["category"].drop_nulls().unique().to_list())
        with tempfile.TemporaryDirectory() as tmp:
            report = run_validation(
                frames,
                run_id="bench-floor",
                audit_date=date.today(),
                docs_dir=Path(tmp) / "data_docs",
                params=SuiteParams(known_categories=categories, known_currencies=["USD"]),
                label="one row of each input table",
            )
    out["suites"] = [suite.suite for suite in report.suites]
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def prefect_server() -> Iterator[str]:
    """A Prefect server of our own on 127.0.0.1, stopped afterwards."""
    import urllib.request

    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    home = CACHE / "prefect-home"
    env = {**os.environ, "PREFECT_HOME": str(home.resolve()), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    prefect = Path(sys.executable).with_name("prefect")
    log = open(CACHE / "prefect-server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit(f"the Prefect server did not start: see {CACHE / 'prefect-server.log'}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _audit_cli(args: list[str], api_url: str, per_process: bool = False) -> dict[str, Any]:
    """`audit ...` as a user runs it, in its own process: wall time and its peak RSS; with
    `per_process`, also peak RSS and CPU of every process it starts (bench/procs.py), so a Dask
    backfill's workers are told apart."""
    from bench.procs import run_sampled

    env = {
        **os.environ,
        "PREFECT_API_URL": api_url,
        "AUDIT_PSEUDONYM_KEY": KEY,
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    audit = Path(sys.executable).with_name("audit")
    started = time.perf_counter()
    if per_process:
        done, processes = run_sampled([str(audit), *args], env)
    else:
        done = subprocess.run([str(audit), *args], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"audit {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    out = {
        "wall_seconds": round(wall, 2),
        "peak_rss_gb": round(_peak_rss_gb(resource.RUSAGE_CHILDREN), 2),
        "load": load(),
    }
    if per_process:
        out["processes"] = processes
    return out


def _task_seconds(api_url: str, flow_name: str) -> dict[str, list[float]]:
    """Durations of the newest run of `flow_name`'s task runs, by task name, from the API."""
    import asyncio

    os.environ["PREFECT_API_URL"] = api_url
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    async def read() -> dict[str, list[float]]:
        async with get_client() as client:
            [run] = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
            tasks = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
            )
        out: dict[str, list[float]] = {}
        for task in tasks:
            if task.start_time and task.end_time:
                out.setdefault(task.name.rsplit("-", 1)[0], []).append(
                    (task.end_time - task.start_time).total_seconds()
                )
        return out

    return asyncio.run(read())


def _warm_places() -> list[str]:
    """The warm run's landing, warehouse and reports as `audit` options."""
    return [
        f"--landing={PREPARED_LANDING.resolve()}",
        *(f"--{folder}={(WARM / folder).resolve()}" for folder in ("warehouse", "reports")),
    ]


def measure_warm_daily() -> dict[str, Any]:
    """The scheduled run after one new export day, end to end against a running Prefect server."""
    shutil.rmtree(WARM, ignore_errors=True)
    newest = export_days()[-1]
    for entity in ENTITIES:  # the new export day lands (again: a previous run's links go first)
        shutil.rmtree(PREPARED_LANDING / entity / newest, ignore_errors=True)
        if (LANDING / entity / newest).exists():
            shutil.copytree(
                LANDING / entity / newest, PREPARED_LANDING / entity / newest, copy_function=os.link
            )
    shutil.copytree(PREPARED, WARM / "warehouse" / "_canonical", copy_function=os.link)
    places, days = _warm_places(), backfill_days()
    with prefect_server() as api:
        out = _audit_cli(["run", *places], api, True)
        out["tasks"] = _task_seconds(api, "support-audit-daily")
        out["cpu_seconds"] = round(sum(p["cpu_seconds"] for p in out.pop("processes")), 1)
        backfill = _audit_cli(
            ["backfill", "--start", str(days[0]), "--end", str(days[-1]), "--no-ingest", *places], api, True
        )
        backfill["tasks"] = _task_seconds(api, "support-audit-backfill")
        backfill["days"] = len(days)
    out["backfill"] = backfill
    return out


def measure_backfill_cluster() -> dict[str, Any]:
    """The warm run's backfill again, its days fanned out on a local Dask cluster of two workers
    (`--cluster local:2`), in a process of its own so its peak RSS is the cluster's (the
    largest of the CLI and its worker processes)."""
    places = _warm_places()
    span = backfill_days()
    days = ["--start", str(span[0]), "--end", str(span[-1])]
    with prefect_server() as api:
        out = _audit_cli(["backfill", *days, "--no-ingest", "--cluster", "local:2", *places], api, True)
    out["days"] = len(span)
    return out


def _comparison_window() -> tuple[Any, date, datetime, Any, date, date]:
    from configs.policy import load_policy
    from flows.ingest import store_of
    from flows.windows import data_cutoff, export_range

    policy, day = load_policy(), default_day()
    span = export_range(day, policy)
    first, last = span.start - timedelta(days=1), span.end + timedelta(days=1)
    cutoff = data_cutoff(newest_export_date(), day, "UTC")
    return policy, day, cutoff, store_of(_settings(COLD / "warehouse")), first, last


def measure_polars_scope() -> dict[str, Any]:
    """Follow-up evidence and concession-rate cells from the store, the way `run_audit` builds them."""
    from transforms.concessions import _rate_cells, build_concessions
    from transforms.contacts import AuditWindow
    from transforms.follow_up import TABLE, audit_follow_up
    from transforms.scope import day_scope
    from warehouse.store import audit_inputs

    policy, day, cutoff, store, first, last = _comparison_window()
    out: dict[str, Any] = {}
    with _timed(out):
        tables = audit_inputs(store, first, last)
        window = AuditWindow(day, policy.business_time_zone, cutoff)
        scope = day_scope(tables, window, policy)
        evidence = audit_follow_up(scope, window, policy).tables[TABLE]
        granted = build_concessions(scope.tickets, scope.ticket_events, scope.calls, scope.contacts, "UTC")
        cells = _rate_cells(scope.contacts, granted, window, policy.concessions).select(
            "agent_id", "category", "n", "k"
        )
        follow_up, rate_cells = pl.collect_all([evidence, cells])
    _keep("polars", follow_up, rate_cells)
    return out


def measure_duckdb() -> dict[str, Any]:
    """The same two results in DuckDB SQL, from the same store files."""
    from bench import duckdb_sql

    policy, day, cutoff, store, first, last = _comparison_window()
    since = datetime.combine(first, datetime.min.time()).astimezone(cutoff.tzinfo)
    out: dict[str, Any] = {}
    with _timed(out):
        files = {
            "tickets": [f for f, _ in store.files("tickets", last=last, kept=True)],
            "ticket_events": [f for f, _ in store.files("ticket_events", first=first, last=last, kept=True)],
            "calls": [f for f, _ in store.files("calls", first=first, last=last, kept=True)],
        }
        follow_up, rate_cells = duckdb_sql.follow_up_and_rate_cells(files, since, day, cutoff, policy)
    _keep("duckdb", follow_up, rate_cells)
    return out


def _keep(engine: str, follow_up: pl.DataFrame, rate_cells: pl.DataFrame) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    follow_up.write_parquet(OUT / f"{engine}_follow_up.parquet")
    rate_cells.write_parquet(OUT / f"{engine}_rate_cells.parquet")


MEASUREMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "cold_ingest": measure_cold_ingest,
    "transforms": measure_transforms,
    "prepare": measure_prepare,
    "warm_daily": measure_warm_daily,
    "validation_floor": measure_validation_floor,
    "backfill_cluster": measure_backfill_cluster,
    "polars_scope": measure_polars_scope,
    "duckdb": measure_duckdb,
}


# --- comparison and report ----------------------------------------------------------------------

FOLLOW_UP_COLUMNS = [
    "contact_type",
    "contact_id",
    "agent_id",
    "team_id",
    "customer_id",
    "status",
    "follow_up_id",
    "hours_to_follow_up",
    "is_customer_came_back_first",
    "closed_at",
    "window_end_at",
]


def compare_outputs() -> dict[str, Any]:
    """Row-for-row equality of the Polars and DuckDB results (sorted, same column types)."""
    from polars.testing import assert_frame_equal

    verdict: dict[str, Any] = {}
    for name, keys, columns in (
        ("follow_up", ["contact_type", "contact_id"], FOLLOW_UP_COLUMNS),
        ("rate_cells", ["agent_id", "category"], ["agent_id", "category", "n", "k"]),
    ):
        ours = pl.read_parquet(OUT / f"polars_{name}.parquet").select(columns).sort(keys, nulls_last=True)
        theirs = pl.read_parquet(OUT / f"duckdb_{name}.parquet").select(columns).sort(keys, nulls_last=True)
        try:
            assert_frame_equal(ours, theirs.cast(ours.schema), check_exact=False, abs_tol=1e-9)
            verdict[name] = {"equal": True, "rows": ours.height}
        except AssertionError as exc:
            verdict[name] = {"equal": False, "rows": [ours.height, theirs.height], "detail": str(exc)[:500]}
    return verdict


def _child(name: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run_bench", "--measure", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"measurement {name!r} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def format_tasks(tasks: dict[str, list[float]]) -> str:
    """A run's seconds per task name (summed over its runs), from `_task_seconds`."""
    return "task seconds: " + ", ".join(f"{k} {sum(v):.1f}" for k, v in sorted(tasks.items()))


def format_processes(processes: list[dict[str, Any]]) -> str:
    """One line per process of a sampled run (the Dask workers among them), largest first."""
    busy = [p for p in processes if p["cpu_seconds"] >= 1.0]
    return "\n".join(
        f"  {p['role']} (pid {p['pid']}): peak RSS {p['peak_rss_gb']} GB, CPU {p['cpu_seconds']} s"
        f" in {p['wall_seconds']} s (sampled every 0.2 s)"
        for p in sorted(busy, key=lambda p: -p["peak_rss_gb"])
    )


def cpu_bound_line(cpu_seconds: float, transforms: float, days: int = 1, cores: int | None = None) -> str:
    """The least wall time (per day, for `days` days) a run's CPU allows on this box's cores,
    however well its steps overlap, against `transforms` (that many days' transform time)."""
    cores = cores or len(os.sched_getaffinity(0))  # the cores this process may use
    least = cpu_seconds / cores / days
    per, of = (" a day", "a day's") if days > 1 else ("", "its")
    return (
        f"  CPU of the run's processes {cpu_seconds:.1f} s: on {cores} cores no less than"
        f" {least:.1f} s{per} = {least / max(transforms, 1e-9):.2f} x {of} transforms, however it overlaps"
    )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--measure", choices=sorted(MEASUREMENTS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(MEASUREMENTS[args.measure](), default=str))
        return 0

    ensure_workload()
    cold = _child("cold_ingest")
    per_day = cold["wall_seconds"] / cold["export_days"]
    print(
        f"cold ingest of {cold['export_days']} export days ({cold['objects']} objects,"
        f" input suites per batch): wall {cold['wall_seconds']} s ({per_day:.1f} s per export day),"
        f" CPU {cold['cpu_seconds']} s,"
        f" peak RSS {cold['peak_rss_gb']} GB ({cold['load']})"
    )
    day = _child("transforms")
    transforms = day["wall_seconds"]
    TRANSFORMS_FIGURE.write_text(json.dumps(day, default=str))
    print(
        f"audit day {day['audit_date']} transforms on the store: wall {transforms} s,"
        f" CPU {day['cpu_seconds']} s, peak RSS {day['peak_rss_gb']} GB ({day['load']})"
        f" [<= {TRANSFORM_TARGET_SECONDS:.0f} s, <= {TRANSFORM_TARGET_GB:.0f} GB:"
        f" {_verdict(transforms <= TRANSFORM_TARGET_SECONDS and day['peak_rss_gb'] <= TRANSFORM_TARGET_GB)}]"
    )
    prepared = _child("prepare")
    print(
        "warm run's store (every export day but the newest): "
        + (
            "reused"
            if prepared.get("reused")
            else f"ingested in {prepared['wall_seconds']} s ({prepared['load']})"
        )
    )
    warm = _child("warm_daily")
    tasks = warm["tasks"]
    own_transforms = sum(tasks.get("compute_metrics", []))
    ingest = sum(tasks.get("ingest_new_exports", []))
    ok_warm = warm["wall_seconds"] <= WARM_RATIO * own_transforms and warm["peak_rss_gb"] <= WARM_GB
    ok_ingest = ingest <= INGEST_SHARE * transforms
    print(
        f"warm daily run (`audit run`, one new export day,"
        f" {len(tasks.get('compute_metrics', []))} audit days): wall {warm['wall_seconds']} s,"
        f" peak RSS {warm['peak_rss_gb']} GB ({warm['load']});"
        f" its transforms {own_transforms:.1f} s:"
        f" ratio {warm['wall_seconds'] / max(own_transforms, 1e-9):.2f}"
        f" [<= {WARM_RATIO}, <= {WARM_GB:.0f} GB: {_verdict(ok_warm)}]"
    )
    print(f"  {format_tasks(tasks)}")
    print(cpu_bound_line(warm["cpu_seconds"], own_transforms))
    print(
        f"  ingest + input validation of the new export day {ingest:.1f} s"
        f" = {ingest / transforms:.0%} of a day's transforms [<= {INGEST_SHARE:.0%}: {_verdict(ok_ingest)}]"
    )
    floor = _child("validation_floor")
    print(
        f"  of which fixed: the input validation before it reads a row, in a fresh process (import"
        f" {floor['import_seconds']} s, then the {len(floor['suites'])} input suites on one row each"
        f" with their Data Docs): {floor['wall_seconds']} s = {floor['wall_seconds'] / transforms:.0%}"
        f" of a day's transforms ({floor['load']})"
    )
    back = warm["backfill"]
    per_audit_day = back["wall_seconds"] / back["days"]
    year_hours = per_audit_day * 365 / 3600
    ok_backfill = per_audit_day <= BACKFILL_RATIO * transforms and year_hours <= YEAR_HOURS
    print(
        f"backfill of {back['days']} days from the store (`audit backfill --no-ingest`):"
        f" wall {back['wall_seconds']} s,"
        f" {per_audit_day:.1f} s per day = {per_audit_day / transforms:.2f} x a day's transforms;"
        f" 365 days ~ {year_hours:.2f} h; peak RSS {back['peak_rss_gb']} GB ({back['load']})"
        f" [<= {BACKFILL_RATIO} x, <= {YEAR_HOURS} h: {_verdict(ok_backfill)}]"
    )
    print(f"  {format_tasks(back['tasks'])}")
    print(cpu_bound_line(sum(p["cpu_seconds"] for p in back["processes"]), transforms, back["days"]))
    print(format_processes(back["processes"]))
    spread = _child("backfill_cluster")
    per_day_cluster = spread["wall_seconds"] / spread["days"]
    print(
        f"the same backfill on a local Dask cluster of 2 workers (`--cluster local:2`):"
        f" wall {spread['wall_seconds']} s, {per_day_cluster:.1f} s per day"
        f" ({back['wall_seconds'] / spread['wall_seconds']:.2f} x the serial speed);"
        f" 365 days ~ {per_day_cluster * 365 / 3600:.2f} h; largest process peak RSS"
        f" {spread['peak_rss_gb']} GB ({spread['load']}) [reported]"
    )
    print(format_processes(spread["processes"]))
    ours, duck = _child("polars_scope"), _child("duckdb")
    ratio = ours["wall_seconds"] / duck["wall_seconds"] if duck["wall_seconds"] else float("nan")
    verdict = compare_outputs()
    ok_duck = ratio <= 1.0 and all(r["equal"] for r in verdict.values())
    print(
        "follow-up + concession-rate cells from the store: polars"
        f" {ours['wall_seconds']} s (CPU {ours['cpu_seconds']} s, {ours['peak_rss_gb']} GB), duckdb"
        f" {duck['wall_seconds']} s (CPU {duck['cpu_seconds']} s, {duck['peak_rss_gb']} GB);"
        f" polars/duckdb = {ratio:.2f} ({ours['load']}) [<= 1.0 and identical: {_verdict(ok_duck)}]"
    )
    for name, result in verdict.items():
        print(f"  {name}: {'identical' if result['equal'] else 'DIFFERENT'} ({result['rows']} rows)")
        if not result["equal"]:
            print("   ", result["detail"])
    ok = ok_warm and ok_ingest and ok_backfill and ok_duck
    print("PASS" if ok else "FAIL: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
