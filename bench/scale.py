"""How an audit day's cost grows with agents and history: `make bench-scale` / `python -m bench.scale`.

For each centre size (1,000, 5,000 and 10,000 agents by default; `BENCH_SCALE_AGENTS=1000,5000`
picks others, in thousands), with the per-agent volumes of `make bench` (50 tickets, ~250 events
and 30 calls per agent per weekday, 42 export days ending 2026-10-31):

1. **Exports** in `.bench-cache/scale-<N>/landing/`: N / 1,000 copies of the `make bench`
   centre (generated once, seed 7), each copy's ids under a prefix of its own
   (`s03-agent-0042`), so the copies never share a ticket, call, customer, agent or team. The
   generator holds a whole centre in memory (about 4 GB for 1,000 agents and 42 days) and takes
   about 100 s per 1,000 agents, so copies keep a 10,000-agent landing to minutes; the rows,
   keys and per-agent volumes are those of a real 10,000-agent centre, its behaviour repeats
   every 1,000 agents. Each export day holds one file per copy and entity, as a centre exporting
   per site would.
2. **Cold ingest** of every export day, one export day per batch (`ingest_batch_days = 1`, the
   setting a large centre uses so a batch's memory is one day's, not a week's).
3. **Transforms of one audit day** on the store (`run_audit`, every table collected), for two
   days: 2026-10-04, with 14 days of history in its 54-day look-back, and 2026-10-28 (the flow's
   default day), with 38. Each in its own process: wall, CPU, peak RSS.
4. **The audit day end to end**: `audit run --date 2026-10-28 --no-ingest` against a Prefect
   server on 127.0.0.1 (transforms, output suites, publishing, reports), the process tree
   sampled every 0.2 s for peak RSS and CPU per process.

Results go to `.bench-cache/scale-results.json` as they come (a long run can be read halfway)
and are printed at the end with the box's load beside each figure; bench/RESULTS.md and
docs/scaling.md give their reading.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from bench.run_bench import _audit_cli, _task_seconds, _timed, load, prefect_server

ROOT = Path(".bench-cache")
RESULTS = ROOT / "scale-results.json"
SHARD_AGENTS = 1000
ENTITIES = ("tickets", "ticket_events", "calls")
# Every id column of the three entities: a shard's ids get its prefix so shards never collide.
ID_COLUMNS = (
    "ticket_id",
    "event_id",
    "call_id",
    "previous_call_id",
    "customer_id",
    "assignee_id",
    "agent_id",
    "actor_id",
    "team_id",
    "approved_by",
    "escalated_to",
)
END = date(2026, 10, 31)
FULL_DAY = date(2026, 10, 28)  # the flow's default day: newest export day - 3
SHORT_DAY = date(2026, 10, 4)  # 14 export days (2026-09-20 .. 10-03) before it


def centre(agents: int) -> Path:
    return ROOT / f"scale-{agents}"


def _settings(agents: int) -> Any:
    from configs.settings import load_settings

    home = centre(agents).resolve()
    return load_settings(
        landing_uri=str(home / "landing"),
        warehouse_uri=str(home / "warehouse"),
        reports_uri=str(home / "reports"),
        ingest_batch_days=1,
    )


# --- exports ------------------------------------------------------------------------------------


def ensure_landing(agents: int) -> dict[str, Any]:
    """The centre's exports: `agents // 1000` copies of the `make bench` centre, ids prefixed."""
    from devtools.sample_data.generate import ensure_benchmark_exports

    landing = centre(agents) / "landing"
    done = landing / "_generator" / "shards.json"
    if done.exists():
        return {"reused": True}
    out: dict[str, Any] = {}
    with _timed(out):
        shard = ensure_benchmark_exports(ROOT / "large" / "landing")
        shutil.rmtree(landing, ignore_errors=True)
        for index in range(agents // SHARD_AGENTS):
            _add_shard(shard, landing, index)
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps({"agents": agents, "shards": agents // SHARD_AGENTS}))
    return out


def _add_shard(raw: Path, landing: Path, shard: int) -> None:
    """Copy one shard's export files into the centre's landing with its ids prefixed."""
    tag = f"s{shard:02d}-"
    for entity in ENTITIES:
        for folder in sorted((raw / entity).glob("export_date=*")):
            target = landing / entity / folder.name
            target.mkdir(parents=True, exist_ok=True)
            for file in sorted(folder.glob("*.parquet")):
                frame = pl.scan_parquet(file)
                ids = [c for c in frame.collect_schema().names() if c in ID_COLUMNS]
                frame.with_columns((pl.lit(tag) + pl.col(c)).alias(c) for c in ids).sink_parquet(
                    target / f"{file.stem}-s{shard:02d}.parquet"
                )
            (target / "_SUCCESS").touch()


# --- measurements (each in a process of its own) ------------------------------------------------


def measure_ingest(agents: int) -> dict[str, Any]:
    """Every export day into an empty store, one day per batch, as `audit ingest` does."""
    from configs.policy import load_policy
    from flows.ingest import ingest_exports

    settings = _settings(agents)
    marker = centre(agents) / "warehouse" / ".ingested"
    if marker.exists():
        return json.loads(marker.read_text()) | {"reused": True}
    shutil.rmtree(centre(agents) / "warehouse", ignore_errors=True)
    out: dict[str, Any] = {}
    with _timed(out):
        report = ingest_exports(settings, load_policy(), f"scale-{agents}")
    reads = report.objects_read
    out["objects"] = reads.height
    out["export_days"] = reads["export_date"].n_unique()
    out["rows"] = {e: int(reads.filter(pl.col("entity") == e)["rows_read"].sum()) for e in ENTITIES}
    marker.write_text(json.dumps(out))
    return out


def measure_transforms(agents: int, day: date) -> dict[str, Any]:
    """One audit day's transforms on the store, every table collected (`compute_metrics`)."""
    from configs.policy import load_policy
    from flows.ingest import store_of
    from flows.windows import data_cutoff, export_range
    from transforms.audit import collect_audit, run_audit
    from transforms.contacts import AuditWindow
    from warehouse.store import audit_inputs

    policy = load_policy()
    span = export_range(day, policy)
    store = store_of(_settings(agents))
    out: dict[str, Any] = {"audit_date": str(day)}
    with _timed(out):
        inputs = audit_inputs(
            store,
            span.start - timedelta(days=1),
            span.end + timedelta(days=1),
            delivered=(span.start, span.end),
        )
        # the cut-off `read_day_inputs` gives: the newest export day the windows can see
        window = AuditWindow(day, "UTC", data_cutoff(min(END, span.end), day, "UTC"))
        tables = collect_audit(run_audit(inputs, window, policy))
    out["rows"] = {name: table.height for name, table in tables.items()}
    scans = {e: getattr(inputs, e) for e in ENTITIES}
    counts = pl.collect_all([scan.select(pl.len()) for scan in scans.values()])
    out["input_rows"] = dict(zip(scans, (int(c.item()) for c in counts), strict=True))
    return out


def measure_audit_run(agents: int, day: date) -> dict[str, Any]:
    """`audit run --date D --no-ingest` end to end, its process tree sampled."""
    home = centre(agents).resolve()
    places = [f"--{name}={home / name}" for name in ("landing", "warehouse", "reports")]
    with prefect_server() as api:
        out = _audit_cli(["run", "--date", str(day), "--no-ingest", *places], api, per_process=True)
        out["tasks"] = _task_seconds(api, "support-audit-daily")
    return out


# --- driver -------------------------------------------------------------------------------------


def _child(*args: str) -> dict[str, Any]:
    """One measurement in a fresh process; an out-of-memory kill is a result, not a crash."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--measure", *args], capture_output=True, text=True, check=False
    )
    if done.returncode < 0:
        return {"failed": f"killed by signal {-done.returncode} (out of memory?)", "load": load()}
    if done.returncode != 0:
        return {"failed": done.stderr[-2000:], "load": load()}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _record(results: dict[str, Any], agents: int, step: str, figures: dict[str, Any]) -> None:
    results.setdefault(str(agents), {})[step] = figures
    RESULTS.write_text(json.dumps(results, indent=1, default=str))
    print(f"{agents:>6} agents  {step}: {json.dumps(figures, default=str)[:600]}", flush=True)


MEASUREMENTS: dict[str, Callable[..., dict[str, Any]]] = {
    "landing": lambda agents: ensure_landing(int(agents)),
    "ingest": lambda agents: measure_ingest(int(agents)),
    "transforms": lambda agents, day: measure_transforms(int(agents), date.fromisoformat(day)),
    "audit_run": lambda agents, day: measure_audit_run(int(agents), date.fromisoformat(day)),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        name, *rest = args.measure
        print(json.dumps(MEASUREMENTS[name](*rest), default=str))
        return 0
    sizes = [int(n) * 1000 for n in os.environ.get("BENCH_SCALE_AGENTS", "1,10,5").split(",")]
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for agents in sizes:
        landing = _child("landing", str(agents))
        _record(results, agents, "landing", landing)
        if "failed" in landing:
            continue
        ingest = _child("ingest", str(agents))
        _record(results, agents, "ingest", ingest)
        if "failed" in ingest:
            continue
        for day in (SHORT_DAY, FULL_DAY):
            _record(results, agents, f"transforms {day}", _child("transforms", str(agents), str(day)))
        _record(results, agents, f"audit run {FULL_DAY}", _child("audit_run", str(agents), str(FULL_DAY)))
    print(summary(results))
    print(f"results in {RESULTS}")
    return 0


def summary(results: dict[str, Any]) -> str:
    """The figures per centre size, one line per measurement, the load beside each."""
    from bench.run_bench import format_processes, format_tasks

    lines = []
    for agents, steps in sorted(results.items(), key=lambda item: int(item[0])):
        lines.append(f"{int(agents):,} agents")
        ingest = steps.get("ingest", {})
        if "wall_seconds" in ingest:
            lines.append(
                f"  cold ingest, {ingest['export_days']} export days one per batch: wall"
                f" {ingest['wall_seconds']} s ({ingest['wall_seconds'] / ingest['export_days']:.1f} s per"
                f" export day), CPU {ingest['cpu_seconds']} s, peak RSS {ingest['peak_rss_gb']} GB"
                f" ({ingest['load']})"
            )
        for step, figures in steps.items():
            if "failed" in figures:
                lines.append(f"  {step}: FAILED {figures['failed'][-300:]}")
            elif step.startswith("transforms"):
                events = figures["input_rows"]["ticket_events"]
                lines.append(
                    f"  {step} ({events:,} events in its windows): wall {figures['wall_seconds']} s,"
                    f" CPU {figures['cpu_seconds']} s, peak RSS {figures['peak_rss_gb']} GB"
                    f" ({figures['load']})"
                )
            elif step.startswith("audit run"):
                lines.append(f"  {step} end to end: wall {figures['wall_seconds']} s ({figures['load']})")
                lines.append(f"  {format_tasks(figures['tasks'])}")
                lines.append(format_processes(figures["processes"]))
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
