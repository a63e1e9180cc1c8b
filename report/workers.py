"""Report folders rendered in worker processes when a run reports several days at once.

Rendering a day's folder is pure Python (templates, a page per agent: ~4 s for a 1,000-agent
centre), so threads would share one core. A run that reports several days (a backfill, or the
scheduled run's two days) opens `rendering_pool` around them; each day's `publish_html_report`
task then renders and writes its folder in one of the pool's processes, and the days are
reported side by side. Without a pool (one day, or inside a Dask worker, whose daemon process
may not start children) the folder is rendered in the calling process, as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from configs.settings import S3Settings

_pool: ProcessPoolExecutor | None = None
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportJob:
    """One day's report folder: what to read, where to write it, and the links it shows."""

    warehouse_uri: str
    reports_uri: str
    audit_date: date
    s3: S3Settings | None
    data_docs_url: str | None
    min_volume: int


def publish_folder(job: ReportJob) -> str:
    """Render the day's report folder and write it under the reports URI; returns the location
    of its index.html. Runs in the rendering pool when one is open; if the pool has lost a
    process (killed, out of memory), the folder is rendered here instead: a report is worth a
    slower run, and its pages are rewritten whole either way."""
    pool = _pool
    if pool is None:
        return _render_and_publish(job)
    try:
        return pool.submit(_render_and_publish, job).result()
    except BrokenProcessPool:
        log.warning("report worker lost: rendering %s's report in this process", job.audit_date)
        return _render_and_publish(job)


def _render_and_publish(job: ReportJob) -> str:
    from report.build import build_report_pages, publish_report

    pages = build_report_pages(
        job.warehouse_uri,
        job.audit_date,
        s3=job.s3,
        data_docs_url=job.data_docs_url,
        min_volume=job.min_volume,
        reports_uri=job.reports_uri,
    )
    return publish_report(pages, job.reports_uri, job.audit_date, job.s3)


def pool_size(days: int) -> int:
    """Processes for `days` report folders: one per core, never more than the days; 0 (render
    in this process) for a single day or where this process may not start children."""
    if days < 2 or multiprocessing.current_process().daemon:
        return 0
    return min(days, os.cpu_count() or 1)


@contextmanager
def rendering_pool(days: int) -> Iterator[int]:
    """Open worker processes for reporting `days` days (yields how many; 0: none). Spawned,
    not forked: the flow process runs Polars and Prefect threads, which a fork would copy
    mid-flight."""
    global _pool
    workers = pool_size(days)
    if workers == 0 or _pool is not None:  # one day, a daemon, or a pool already open
        yield 0
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        _pool = pool
        try:
            yield workers
        finally:
            _pool = None
