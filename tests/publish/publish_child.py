"""A publishing run in a process of its own, for the kill and stall tests (test_publication.py).

    python publish_child.py <warehouse> <reports> <run_id> <kill|stall> <commit>

The tests start it as a process forked from a multiprocessing fork server that has imported
this module and the validation code once (`run_logged`, the same `main`), rather than as a new
interpreter that imports Polars, Delta and Great Expectations again for every child.

It publishes the sample day through the production entry point (`write_audit_publish_frames`)
and, right after the given commit (`intent`, or the n-th table commit, 1-based), either
SIGKILLs itself or stalls until the file `<warehouse>.go` appears (then goes on). Before a
stall it creates `<warehouse>.stalled`, so the test knows the commit is done.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "expectations"))

import sample_frames as s

import warehouse.delta as delta
import warehouse.publish as publish
from configs.settings import load_settings
from warehouse.manifest import input_files_frame

STALL_LIMIT_SECONDS = 120


def publish_sample_day(settings, run_id: str) -> None:
    """The sample day's frames, as the transforms return them, through the production entry point."""
    publish.write_audit_publish_frames(
        {},
        {**s.metric_outputs(), "quarantine": s.quarantine().drop("run_id", "audit_date")},
        input_files_frame([]),
        settings=settings,
        policy=settings.policy(),
        audit_date=s.DAY,
        run_id=run_id,
        key=s.KEY,
    )


def main(warehouse: str, reports: str, run_id: str, mode: str, commit: str) -> None:
    def stop_here() -> None:
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        Path(f"{warehouse}.stalled").touch()
        deadline = time.monotonic() + STALL_LIMIT_SECONDS
        while not Path(f"{warehouse}.go").exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    real_table, real_manifest, tables_done = delta.publish_table, publish.append_manifest, []

    def table_then_stop(*args, **kwargs):
        version = real_table(*args, **kwargs)
        tables_done.append(version)
        if commit == str(len(tables_done)):
            stop_here()
        return version

    def manifest_then_stop(row, **kwargs):
        version = real_manifest(row, **kwargs)
        if commit == "intent" and row["status"][0] == "publishing":
            stop_here()
        return version

    delta.publish_table, publish.append_manifest = table_then_stop, manifest_then_stop
    publish_sample_day(load_settings(warehouse_uri=warehouse, reports_uri=reports), run_id)


def run_logged(log: str, cwd: str, *args: str) -> None:
    """`main` in a forked process: from the repository root, its output to `log`."""
    os.chdir(cwd)
    with open(log, "ab", buffering=0) as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
    main(*args)


if __name__ == "__main__":
    main(*sys.argv[1:6])
