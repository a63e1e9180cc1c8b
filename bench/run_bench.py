"""Benchmark one audit day of a large centre (issue #3): `make bench` / `python -m bench.run_bench`.

1. Generates the workload once into `.bench-cache/landing/` (1,000 agents, 50k tickets/day with
   about 5 events each, 30k calls/day, 42 days, Parquet).
2. Times, in a fresh process, one audit day's transforms on it: read the Parquet with lineage,
   de-duplicate, contact universe, every metric family, scorecards; reports wall time and peak
   RSS against the targets (<= 15 s, <= 4 GB).
3. Times a DuckDB SQL implementation of follow-up and of the concession-rate inputs (n, k per
   agent and category over the trailing window) on the same Parquet, against the same scope in
   Polars, checks both give identical rows, and prints both times and the ratio.

Each measurement runs in its own subprocess so peak RSS is that step's alone.
`python -m bench.run_bench --measure transforms` times `transforms.audit.run_audit` alone, on the
canonical frames cached as Parquet (`.bench-cache/<size>/canonical/`), so iterating on the
transforms does not pay for reading and de-duplicating the exports each time.
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
    """Generate the exports once (flows/sample_data), unless the cache already holds them."""
    from flows.sample_data import GeneratorConfig, ensure_benchmark_exports, ensure_exports

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
    days = {p.name.split("=", 1)[1] for p in (LANDING / "tickets").glob("export_date=*")}
    return date.fromisoformat(max(days))


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


def ingested_frames(day: date) -> dict[str, pl.DataFrame]:
    """What the daily flow does: flows/ingest over the policy's export range (read every object,
    stage, de-duplicate, reconcile, quarantine)."""
    from configs.policy import load_policy
    from flows.ingest import ingest_all
    from flows.storage import open_storage
    from flows.windows import export_range

    span = export_range(day, load_policy())
    results = ingest_all(open_storage(str(LANDING.resolve())), span.start, span.end, run_id="bench")
    return {name: results[name].canonical for name in ENTITIES}


# --- child measurements -------------------------------------------------------------------------


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def _rss_gb() -> float:
    """Current resident set size (Linux): the canonical frames alone, before the transforms run."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


def _timed(steps: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = fn()
    steps[name] = round(time.perf_counter() - started, 2)
    return result


def measure_pipeline() -> dict[str, Any]:
    """One audit day end to end on the canonical tables: every family that exists, then scorecards."""
    import importlib

    from configs.policy import load_policy
    from transforms.contacts import AuditWindow, build_contacts, build_customer_contacts

    policy = load_policy()
    day, cutoff = audit_date_and_cutoff()
    window = AuditWindow(day, policy.business_time_zone, cutoff)
    # Import every family first: module import (scipy alone takes seconds on a cold start) is
    # process start-up, not the audit day's work, and is reported apart.
    import_started = time.perf_counter()
    families = {}
    for module in ("follow_up", "escalation", "concessions", "resolution", "scorecards"):
        try:
            families[module] = importlib.import_module(f"transforms.{module}")
        except ImportError:  # a family not written yet
            continue
    import_seconds = time.perf_counter() - import_started
    steps: dict[str, float] = {}
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    frames = _timed(steps, "ingest", lambda: ingested_frames(day))
    tickets, events, calls = (frames[n].lazy() for n in ENTITIES)

    def universe() -> tuple[pl.DataFrame, pl.DataFrame]:
        both = pl.collect_all(
            [
                build_contacts(tickets, events, calls, window.time_zone),
                build_customer_contacts(tickets, calls),
            ]
        )
        return both[0], both[1]

    contacts_df, customer_df = _timed(steps, "contacts", universe)
    contacts, customers = contacts_df.lazy(), customer_df.lazy()

    parts: dict[str, list[pl.LazyFrame]] = {"rate_parts": [], "measures": [], "counts": []}
    outputs: dict[str, pl.DataFrame] = {}

    def run_family(module: str, call: Callable[[Any], Any]) -> None:
        if module not in families:
            return
        mod = families[module]
        started = time.perf_counter()
        result = call(mod)
        lazies = {f"{module}.{k}": v for k, v in vars(result).items() if isinstance(v, pl.LazyFrame)}
        collected = pl.collect_all(list(lazies.values()))
        steps[module] = round(time.perf_counter() - started, 2)
        for name, frame in zip(lazies, collected, strict=True):
            outputs[name] = frame
            kind = name.split(".", 1)[1]
            if kind in parts:
                parts[kind].append(frame.lazy())

    run_family(
        "follow_up",
        lambda m: m.audit_follow_up(contacts, customers, tickets, events, calls, window, policy.follow_up),
    )
    run_family(
        "escalation",
        lambda m: m.audit_escalation(contacts, customers, events, calls, window, policy.escalation),
    )
    run_family(
        "concessions",
        lambda m: m.audit_concessions(
            contacts, tickets, events, calls, window, policy.concessions, policy.version
        ),
    )
    run_family(
        "resolution",
        lambda m: m.audit_resolution(contacts, customers, tickets, events, calls, window, policy),
    )
    if "scorecards" in families:

        def scorecards() -> list[pl.DataFrame]:
            agent_card, team_card = families["scorecards"].build_scorecards(
                parts["rate_parts"], parts["measures"], parts["counts"], contacts, day, policy.min_volume
            )
            return pl.collect_all([agent_card, team_card])

        outputs["agent_scorecard"], outputs["team_scorecard"] = _timed(steps, "scorecards", scorecards)
    total = time.perf_counter() - started
    rows = {name: frame.height for name, frame in outputs.items()}
    rows.update({name: frame.height for name, frame in frames.items()})
    rows["contacts"] = contacts_df.height
    rows["contacts_closed_on_day"] = contacts_df.filter(pl.col("audit_date") == day).height
    return {
        "audit_date": str(day),
        "wall_seconds": round(total, 2),
        "cpu_seconds": round(_cpu_seconds() - cpu_started, 2),
        "peak_rss_gb": round(_peak_rss_gb(), 2),
        "import_seconds": round(import_seconds, 2),
        "steps": steps,
        "rows": rows,
    }


def polars_comparison_scope() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Follow-up evidence and concession-rate cells, computed by the project's transforms."""
    from configs.policy import load_policy
    from transforms.concessions import _rate_cells, build_concessions
    from transforms.contacts import AuditWindow, build_contacts, build_customer_contacts
    from transforms.follow_up import audit_follow_up

    policy = load_policy()
    day, cutoff = audit_date_and_cutoff()
    window = AuditWindow(day, policy.business_time_zone, cutoff)
    frames = canonical_frames()
    tickets, events, calls = (frames[n].lazy() for n in ENTITIES)
    contacts = build_contacts(tickets, events, calls, window.time_zone).collect().lazy()
    customers = build_customer_contacts(tickets, calls)
    follow_up = audit_follow_up(
        contacts, customers, tickets, events, calls, window, policy.follow_up
    ).evidence
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


def cached_canonical_frames() -> dict[str, pl.LazyFrame]:
    """The canonical frames (Parquet scanned directly + transforms/dedup), cached as Parquet so
    iterations on the transforms do not pay for reading and de-duplicating the exports again."""
    if not all((CANONICAL / f"{name}.parquet").exists() for name in ENTITIES):
        CANONICAL.mkdir(parents=True, exist_ok=True)
        for name, frame in canonical_frames().items():
            frame.write_parquet(CANONICAL / f"{name}.parquet")
    return {name: pl.scan_parquet(CANONICAL / f"{name}.parquet") for name in ENTITIES}


def measure_transforms() -> dict[str, Any]:
    """`transforms.audit.run_audit` alone for the bench's audit day, on the cached canonical frames
    loaded into memory first (as the flow hands them over), each table written to OUT/transforms/."""
    from configs.policy import load_policy
    from transforms.audit import CanonicalTables, collect_audit, run_audit
    from transforms.contacts import AuditWindow

    policy = load_policy()
    day, cutoff = audit_date_and_cutoff()
    window = AuditWindow(day, policy.business_time_zone, cutoff)
    frames = {name: frame.collect() for name, frame in cached_canonical_frames().items()}
    inputs = CanonicalTables(*(frames[n].lazy() for n in ENTITIES))
    loaded_gb, load_peak_gb = _rss_gb(), _peak_rss_gb()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
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
        "rss_with_inputs_loaded_gb": round(loaded_gb, 2),
        "peak_rss_while_loading_gb": round(load_peak_gb, 2),
        "rows": {name: table.height for name, table in tables.items()},
    }


MEASUREMENTS: dict[str, Callable[[], dict[str, Any]]] = {
    "transforms": measure_transforms,
    "pipeline": measure_pipeline,
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
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(MEASUREMENTS[args.measure]()))
        return 0

    ensure_workload()
    pipeline = _child("pipeline")
    print(
        f"audit day {pipeline['audit_date']}: wall {pipeline['wall_seconds']} s"
        f" (CPU {pipeline['cpu_seconds']} s), peak RSS {pipeline['peak_rss_gb']} GB"
    )
    print(f"  targets <= {TARGET_SECONDS:.0f} s, <= {TARGET_GB:.0f} GB")
    after_ingest = sum(v for k, v in pipeline["steps"].items() if k != "ingest")
    print(f"  ingest {pipeline['steps'].get('ingest')} s; transforms after ingest {after_ingest:.2f} s")
    print(f"  (module imports before the clock: {pipeline['import_seconds']} s)")
    print("  steps (s): " + ", ".join(f"{k} {v}" for k, v in pipeline["steps"].items()))
    print("  rows: " + ", ".join(f"{k} {v}" for k, v in pipeline["rows"].items()))
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
        pipeline["wall_seconds"] <= TARGET_SECONDS
        and pipeline["peak_rss_gb"] <= TARGET_GB
        and all(r["equal"] for r in verdict.values())
    )
    print("PASS" if ok else "FAIL: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
