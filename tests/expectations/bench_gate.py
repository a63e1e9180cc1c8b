"""Time the validation gate on one sample audit day, per validation (not a test).

    uv run python tests/expectations/bench_gate.py [--landing .bench-cache/gx/landing] [--repeat 3]

Generates the sample landing folder if missing (`audit generate`), ingests the exports the
day needs, computes its tables, stages them as publishing does and times
`expectations.gate.run_validation`, with each GX validation timed separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from configs.settings import load_settings
from expectations import gate
from flows.windows import data_cutoff, export_range
from ingestion.ingest import ingest_all
from storage import open_storage
from transforms.audit import CanonicalTables, collect_audit, run_audit
from transforms.contacts import AuditWindow
from warehouse.manifest import build_manifest, input_files_frame
from warehouse.publish import stage

DAY = dt.date(2026, 11, 17)
KEY = b"bench-pseudonym-key-0123456789abcdef"


def day_frames(landing: Path) -> dict[str, pl.DataFrame]:
    """Inputs, staged outputs and the draft manifest, as write_audit_publish_frames validates them."""
    if not landing.exists():
        subprocess.run(
            ["audit", "generate", "--landing", str(landing), "--end-date", "2026-11-20", "--days", "42"],
            check=True,
            capture_output=True,
        )
    settings = load_settings(landing_uri=str(landing))
    policy = settings.policy()
    days = export_range(DAY, policy)
    ingested = ingest_all(open_storage(str(landing)), days.start, days.end, run_id="bench")
    newest = max(d for r in ingested.values() for d in r.files["export_date"].drop_nulls().to_list())
    zone = settings.time_zone(policy)
    window = AuditWindow(DAY, zone, data_cutoff(newest, DAY, zone))
    inputs = {name: r.canonical.collect() for name, r in ingested.items()}
    tables = CanonicalTables(**{name: frame.lazy() for name, frame in inputs.items()})
    metrics = collect_audit(run_audit(tables, window, policy))
    quarantine = pl.concat([r.quarantine for r in ingested.values()], how="diagonal_relaxed")
    staged = stage(
        {"quarantine": quarantine, **metrics},
        key=KEY,
        run_id="bench",
        audit_date=DAY,
        policy_version=policy.version,
    )
    files = pl.concat([input_files_frame(r.files) for r in ingested.values()], how="vertical")
    draft = build_manifest(
        run_id="bench",
        audit_date=DAY,
        started_at=dt.datetime.now(dt.UTC),
        input_files=files,
        policy=policy,
        settings=settings,
    )
    return {**inputs, **staged, "run_manifest": draft}


def timed_gate(
    frames: dict[str, pl.DataFrame], params: gate.SuiteParams
) -> tuple[tuple[float, float], dict[str, float], Any]:
    """(wall, CPU) seconds of the whole gate, CPU seconds per validated frame, and the report.

    CPU time is the figure to compare on a shared machine; wall time includes waiting.
    """
    per_suite: dict[str, float] = defaultdict(float)
    original = gate._validate

    def timing(context: Any, suite: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return original(context, suite, *args, **kwargs)
        finally:
            per_suite[suite.name] += time.process_time() - started

    gate._validate = timing  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started, cpu = time.perf_counter(), time.process_time()
            report = gate.run_validation(
                frames, run_id="bench", audit_date=DAY, docs_dir=Path(tmp), params=params
            )
            total = (time.perf_counter() - started, time.process_time() - cpu)
    finally:
        gate._validate = original  # type: ignore[assignment]
    return total, dict(per_suite), report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--landing", type=Path, default=Path(".bench-cache/gx/landing"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frames = day_frames(args.landing)
    params = gate.SuiteParams(min_volume=load_settings(landing_uri=str(args.landing)).policy().min_volume)
    print("gate:", gate.__file__)
    print("rows:", {name: f.height for name, f in sorted(frames.items())})
    for attempt in range(args.repeat):
        total, per_suite, report = timed_gate(frames, params)
        evaluated = {s.suite: s.evaluated for s in report.suites}  # per table, views included
        print(
            f"run {attempt + 1}: wall {total[0]:.2f}s, CPU {total[1]:.2f}s, "
            f"critical_passed={report.critical_passed}"
        )
        for name, seconds in sorted(per_suite.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<24} {seconds:6.2f}s CPU  {evaluated.get(name, '')} expectations")
        for failure in report.failures:
            print("  failure:", failure.describe(), file=sys.stderr)


if __name__ == "__main__":
    main()
