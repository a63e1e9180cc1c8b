"""The fixed cost of a run: how long `audit run` takes to start working, against a running server.

`python -m bench.startup` (part of `make bench-scale`): starts a Prefect server on 127.0.0.1,
copies the quickstart's folders (run `make quickstart` first), and runs
`audit run --date <the quickstart's day> --no-ingest` three times. For each run it reads the
flow run and its task runs from the API and prints:

- **to the flow run**: from starting the command to the flow run's start (Python start-up,
  imports, the pre-flight checks of settings, key and stores, creating the flow run);
- **to work**: from starting the command to its first task's start (the target: under 3 s);
- **fixed cost**: the command's wall time minus the time inside its tasks (what a run pays
  whatever the data: start-up, the flow's own bookkeeping, artifacts).

The first run pays the server's first-request costs; the best of the five is the reading, and
the median is printed beside it (on a shared 2-core box a run's start-up varies by a second).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.run_bench import KEY, load, prefect_server

QUICKSTART = Path(".quickstart")
COPY = Path(".bench-cache") / "startup"
RUNS = 5
TARGET_SECONDS = 3.0


def quickstart_day() -> date:
    """The day `make quickstart` audited: the newest of its published days."""
    folders = (COPY / "warehouse" / "agent_scorecard").glob("audit_date=*")
    days = sorted(p.name.split("=", 1)[1] for p in folders)
    if not days:
        raise SystemExit("run `make quickstart` first: the bench audits its folders")
    return date.fromisoformat(days[-1])


async def _flow_and_tasks(api: str) -> tuple[Any, list[Any]]:
    os.environ["PREFECT_API_URL"] = api
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        [run] = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["support-audit-daily"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    return run, [t for t in tasks if t.start_time]


def one_run(api: str, day: date) -> dict[str, float]:
    import subprocess

    key_file = COPY / ".pseudonym-key"  # the quickstart's own key, so pseudonyms stay the same
    key = key_file.read_text().strip() if key_file.exists() else KEY
    env = {**os.environ, "PREFECT_API_URL": api, "AUDIT_PSEUDONYM_KEY": key}
    env["PREFECT_LOGGING_LEVEL"] = "WARNING"
    places = [f"--{name}={(COPY / name).resolve()}" for name in ("landing", "warehouse", "reports")]
    audit = str(Path(sys.executable).with_name("audit"))
    started_at, started = time.time(), time.perf_counter()
    done = subprocess.run(
        [audit, "run", "--date", str(day), "--no-ingest", *places], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"audit run failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    run, tasks = asyncio.run(_flow_and_tasks(api))
    first_task = min(t.start_time.timestamp() for t in tasks)
    in_tasks = sum((t.end_time - t.start_time).total_seconds() for t in tasks if t.end_time)
    return {
        "to_flow_run": round(run.start_time.timestamp() - started_at, 2),
        "to_work": round(first_task - started_at, 2),
        "wall": round(wall, 2),
        "in_tasks": round(in_tasks, 2),
        "fixed": round(wall - in_tasks, 2),
    }


def main() -> int:
    if not (QUICKSTART / "warehouse").exists():
        raise SystemExit("run `make quickstart` first: the bench audits its folders")
    shutil.rmtree(COPY, ignore_errors=True)
    shutil.copytree(QUICKSTART, COPY, symlinks=True)
    day = quickstart_day()
    with prefect_server() as api:
        runs = [one_run(api, day) for _ in range(RUNS)]
    for index, figures in enumerate(runs, 1):
        print(f"run {index}: " + ", ".join(f"{k} {v} s" for k, v in figures.items()))
    best = min(runs, key=lambda r: r["to_work"])
    median = statistics.median(r["to_work"] for r in runs)
    verdict = "PASS" if best["to_work"] < TARGET_SECONDS else "FAIL"
    print(
        f"`audit run --no-ingest` of {day} against a running server: work starts after"
        f" {best['to_work']} s (median of {RUNS}: {median} s; flow run after {best['to_flow_run']} s),"
        f" fixed cost {best['fixed']} s of {best['wall']} s ({load()})"
        f" [< {TARGET_SECONDS:.0f} s to work: {verdict}]"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
