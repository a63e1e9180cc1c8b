"""Benchmark one audit day of a large centre (issue #3): `make bench` / `python -m bench.run_bench`.

1. Generates the workload once into `.bench-cache/large/landing/` (1,000 agents, 50k tickets/day
   with about 5 events each, 30k calls/day, 42 days, Parquet).
2. Runs the daily flow's ingest for the bench day (read, stage, de-duplicate the whole export range)
   and spills the canonical tables to `.bench-cache/large/canonical/`, as a flow run does to its
   scratch folder. Timed and reported, not part of the target.
3. Times one audit day's transforms as the flow runs them after ingest: `transforms.audit.run_audit`
   over scans of those tables, every table collected; wall time and peak RSS against the targets
   (<= 15 s, <= 4 GB).
4. Times the gate's input suites (GX) on the same tables, as scans: reported, not in the target.
5. Times a DuckDB SQL implementation of follow-up and of the concession-rate inputs (n, k per
   agent and category over the trailing window) on the same Parquet exports, against the same scope
   in Polars, checks both give identical rows, and prints both times and the ratio.

Each measurement runs in its own subprocess so peak RSS is that step's alone.
`--reuse-canonical` skips step 2 when an earlier run left the canonical tables, so iterating on the
transforms does not pay for the ingest each time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

# BENCH_SIZE=small runs the same code on a 10-agent, 10-day workload (a quick smoke test).
SIZE = os.environ.get("BENCH_SIZE", "large")
CACHE = Path(".bench-cache") / SIZE
LANDING = CACHE / "landing"
OUT = CACHE / "out"
TARGET_SECONDS = 15.0
TARGET_GB = 4.0
ENTITIES = ("tickets", "ticket_events", "calls")


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


def newest_export_date() -> date:
    """The newest export day in the landing folder, as the daily flow finds it."""
    from ingestion.ingest import newest_export_date as newest
    from storage import open_storage

    day = newest(open_storage(str(LANDING)))
    assert day is not None, f"no exports under {LANDING}"
    return day


def audit_date_and_cutoff() -> tuple[date, datetime]:
    """The flow's default audit day: the newest day whose follow-up windows have all closed."""
    from configs.policy import load_policy
    from flows.windows import data_cutoff, default_audit_date

    policy = load_policy()
    newest = newest_export_date()
    day = default_audit_date(newest, policy)
    return day, data_cutoff(newest, day, policy.business_time_zone)


# --- reading (the Polars side) ------------------------------------------------------------------


def scan_entity(entity: str) -> pl.LazyFrame:
    """Every export file of an entity with its lineage columns (export_date, source_key, source_row)."""
    frames = []
    for path in sorted((LANDING / entity).glob("export_date=*/*.parquet")):
        export_date = date.fromisoformat(path.parent.name.split("=", 1)[1])
        frames.append(
            pl.scan_parquet(path)
            .with_row_index("source_row", offset=1)
            .with_columns(
                pl.col("source_row").cast(pl.Int64),
                pl.lit(export_date).alias("export_date"),
                pl.lit(str(path.relative_to(LANDING))).alias("source_key"),
            )
        )
    return pl.concat(frames)


def canonical_frames() -> dict[str, pl.DataFrame]:
    """Parquet scanned directly, de-duplicated by transforms/dedup (the DuckDB comparison's scope)."""
    from transforms.dedup import deduplicate
    from transforms.schemas import ENTITIES as SCHEMAS

    lazy = [deduplicate(scan_entity(name), SCHEMAS[name]).canonical for name in ENTITIES]
    return dict(zip(ENTITIES, pl.collect_all(lazy), strict=True))


# --- child measurements -------------------------------------------------------------------------


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def polars_comparison_scope() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Follow-up evidence and concession-rate cells, computed by the project's transforms."""
    from configs.policy import load_policy
    from transforms.concessions import _rate_cells, build_concessions
    from transforms.contacts import AuditWindow, build_contacts, build_customer_contacts
    from transforms.follow_up import follow_up_evidence

    policy = load_policy()
    day, cutoff = audit_date_and_cutoff()
    window = AuditWindow(day, policy.business_time_zone, cutoff)
    frames = canonical_frames()
    tickets, events, calls = (frames[n].lazy() for n in ENTITIES)
    contacts = build_contacts(tickets, events, calls, window.time_zone).collect().lazy()
    customers = build_customer_contacts(tickets, calls)
    follow_up = follow_up_evidence(contacts, customers, tickets, events, calls, window, policy.follow_up)
    granted = build_concessions(tickets, events, calls, contacts, window.time_zone)
    cells = _rate_cells(contacts, granted, window, policy.concessions).select(
        "agent_id", "category", "n", "k"
    )
    evidence, rate_cells = pl.collect_all([follow_up, cells])
    return evidence, rate_cells


def measure_polars_scope() -> dict[str, Any]:
    import transforms.concessions
    import transforms.follow_up  # noqa: F401

    return _measure_comparison("polars", polars_comparison_scope)


def measure_duckdb() -> dict[str, Any]:
    from bench import duckdb_sql
    from configs.policy import load_policy

    policy = load_policy()
    day, cutoff = audit_date_and_cutoff()
    return _measure_comparison(
        "duckdb", lambda: duckdb_sql.follow_up_and_rate_cells(LANDING, day, cutoff, policy)
    )


def _measure_comparison(
    engine: str, compute: Callable[[], tuple[pl.DataFrame, pl.DataFrame]]
) -> dict[str, Any]:
    """Time one engine's follow-up evidence and rate cells, keep them for the equality check."""
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    evidence, cells = compute()
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    OUT.mkdir(parents=True, exist_ok=True)
    evidence.write_parquet(OUT / f"{engine}_follow_up.parquet")
    cells.write_parquet(OUT / f"{engine}_rate_cells.parquet")
    return {
        "wall_seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_gb": round(_peak_rss_gb(), 2),
    }


CANONICAL = CACHE / "canonical"


def _spilled() -> dict[str, Path]:
    return {name: CANONICAL / f"{name}.parquet" for name in ENTITIES}


def _spilled_scans() -> dict[str, pl.LazyFrame]:
    """The spilled canonical tables as a flow run hands them on: scans, in ENTITIES order."""
    return {name: pl.scan_parquet(path) for name, path in _spilled().items()}


def measure_ingest() -> dict[str, Any]:
    """The daily flow's ingest for the bench day (`ingestion.ingest.ingest_all` over the policy's export
    range), spilling the canonical tables to CANONICAL exactly as a flow run spills them to its
    scratch folder. Not part of the target: it reads the whole export range, not one day."""
    from configs.policy import load_policy
    from flows.windows import export_range
    from ingestion.ingest import ingest_all
    from storage import open_storage

    day, _ = audit_date_and_cutoff()
    span = export_range(day, load_policy())
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    results = ingest_all(
        open_storage(str(LANDING.resolve())), span.start, span.end, run_id="bench", spill_dir=CANONICAL
    )
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    files = sum(r.files.height for r in results.values())
    return {
        "export_days": f"{span.start}..{span.end}",
        "wall_seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_gb": round(_peak_rss_gb(), 2),
        "rows": {name: r.canonical.select(pl.len()).collect().item() for name, r in results.items()},
        "files": files,
    }


def measure_transforms() -> dict[str, Any]:
    """One audit day's transforms, as the daily flow runs them after ingest: `run_audit` over scans
    of the canonical tables the ingest spilled (CANONICAL), every table collected and written to
    OUT/transforms/. The clock starts after module imports (process start-up, not the day's work)."""
    from configs.policy import load_policy
    from transforms.audit import CanonicalTables, collect_audit, run_audit
    from transforms.contacts import AuditWindow

    policy = load_policy()
    day, cutoff = audit_date_and_cutoff()
    window = AuditWindow(day, policy.business_time_zone, cutoff)
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    inputs = CanonicalTables(*_spilled_scans().values())
    tables = collect_audit(run_audit(inputs, window, policy))
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    out = OUT / "transforms"
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.write_parquet(out / f"{name}.parquet")
    return {
        "audit_date": str(day),
        "wall_seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_gb": round(_peak_rss_gb(), 2),
        "rows": {name: table.height for name, table in tables.items()},
    }


def measure_gate() -> dict[str, Any]:
    """The gate's input suites on the spilled canonical tables, handed over as scans as a flow run
    does (`expectations.gate.run_validation`). Not part of the target: reported beside it."""
    import tempfile

    from expectations.gate import run_validation

    day, _ = audit_date_and_cutoff()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as docs:
        report = run_validation(_spilled_scans(), run_id="bench", audit_date=day, docs_dir=Path(docs))
    return {
        "wall_seconds": round(time.perf_counter() - started, 2),
        "cpu_seconds": round(_cpu_seconds() - cpu_started, 2),
        "peak_rss_gb": round(_peak_rss_gb(), 2),
        "critical_passed": report.critical_passed,
    }


MEASUREMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "ingest": measure_ingest,
    "transforms": measure_transforms,
    "gate": measure_gate,
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
    "customer_came_back_first",
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
        raise SystemExit(f"measurement {name!r} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--measure", choices=sorted(MEASUREMENTS), help=argparse.SUPPRESS)
    parser.add_argument(
        "--reuse-canonical",
        action="store_true",
        help="time the audit day on the canonical tables of an earlier run (skip the ingest)",
    )
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(MEASUREMENTS[args.measure]()))
        return 0

    ensure_workload()
    if args.reuse_canonical and all(p.exists() for p in _spilled().values()):
        print(f"ingest: reusing the canonical tables in {CANONICAL}")
    else:
        ingest = _child("ingest")
        print(
            f"ingest (ingestion.ingest, export days {ingest['export_days']}, {ingest['files']} files):"
            f" wall {ingest['wall_seconds']} s (CPU {ingest['cpu_seconds']} s),"
            f" peak RSS {ingest['peak_rss_gb']} GB; canonical rows "
            + ", ".join(f"{k} {v}" for k, v in ingest["rows"].items())
        )
    day = _child("transforms")
    print(
        f"audit day {day['audit_date']} (run_audit on the spilled canonical tables):"
        f" wall {day['wall_seconds']} s (CPU {day['cpu_seconds']} s), peak RSS {day['peak_rss_gb']} GB"
    )
    print(f"  targets <= {TARGET_SECONDS:.0f} s, <= {TARGET_GB:.0f} GB")
    print("  rows: " + ", ".join(f"{k} {v}" for k, v in day["rows"].items()))
    gate = _child("gate")
    print(
        f"input validation (GX suites on the spilled tables; not in the target):"
        f" wall {gate['wall_seconds']} s"
        f" (CPU {gate['cpu_seconds']} s), peak RSS {gate['peak_rss_gb']} GB,"
        f" critical checks {'passed' if gate['critical_passed'] else 'FAILED'}"
    )
    ours = _child("polars_scope")
    duck = _child("duckdb")
    ratio = duck["wall_seconds"] / ours["wall_seconds"] if ours["wall_seconds"] else float("nan")
    print(
        "follow-up + concession-rate inputs (read, dedup, contacts, metric):"
        f" polars {ours['wall_seconds']} s (CPU {ours['cpu_seconds']} s, {ours['peak_rss_gb']} GB),"
        f" duckdb {duck['wall_seconds']} s (CPU {duck['cpu_seconds']} s, {duck['peak_rss_gb']} GB),"
        f" duckdb/polars wall = {ratio:.2f}"
    )
    verdict = compare_outputs()
    for name, result in verdict.items():
        print(f"  {name}: {'identical' if result['equal'] else 'DIFFERENT'} ({result['rows']} rows)")
        if not result["equal"]:
            print("   ", result["detail"])
    ok = (
        day["wall_seconds"] <= TARGET_SECONDS
        and day["peak_rss_gb"] <= TARGET_GB
        and all(r["equal"] for r in verdict.values())
    )
    print("PASS" if ok else "FAIL: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
