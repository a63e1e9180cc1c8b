"""Report folders rendered in worker processes (report/workers.py) are the folders the flow
process renders, written whole, index last; one day or a daemon process renders in place."""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import D

from report import workers
from report.build import publish_report
from report.workers import ReportJob, pool_size, publish_folder, rendering_pool
from storage import LocalStorage


def _job(warehouse: Path, reports: Path) -> ReportJob:
    return ReportJob(str(warehouse), str(reports), D, None, "../../data_docs/index.html", 20)


def _folder(reports: Path) -> dict[str, bytes]:
    storage = LocalStorage(reports)
    return {info.key: storage.read_bytes(info.key) for info in storage.list(hashed=False)}


def test_days_rendered_in_the_pool_equal_a_folder_rendered_in_place(
    v2_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_place = publish_folder(_job(v2_warehouse, tmp_path / "in-place"))
    assert workers._pool is None and in_place.endswith(f"audit_date={D}/index.html")
    submitted: list[Any] = []
    with rendering_pool(2) as opened:
        assert opened == pool_size(2) >= 1 and workers._pool is not None
        pool = workers._pool
        real_submit = pool.submit

        def submit(fn: Any, *args: Any) -> Future[Any]:
            submitted.append(args[0].reports_uri)
            return real_submit(fn, *args)

        monkeypatch.setattr(pool, "submit", submit)
        first = publish_folder(_job(v2_warehouse, tmp_path / "pool-1"))
        second = publish_folder(_job(v2_warehouse, tmp_path / "pool-2"))
    assert workers._pool is None  # closed with the block
    assert submitted == [str(tmp_path / "pool-1"), str(tmp_path / "pool-2")]
    assert first == in_place.replace("in-place", "pool-1") and second.endswith("index.html")
    expected = _folder(tmp_path / "in-place")
    assert len(expected) > 4  # the day, its period pages and the agent pages
    assert _folder(tmp_path / "pool-1") == expected == _folder(tmp_path / "pool-2")


def test_one_day_or_a_daemon_process_renders_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pool_size(1) == 0
    assert pool_size(5) == min(5, multiprocessing.cpu_count())
    with rendering_pool(1) as opened:
        assert opened == 0 and workers._pool is None
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True)  # a Dask worker
    assert pool_size(28) == 0


def test_the_index_is_written_after_every_other_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    real = LocalStorage.write_bytes

    def record(self: LocalStorage, key: str, data: bytes, content_type: str | None = None) -> None:
        real(self, key, data, content_type)
        written.append(key.rsplit("/", 1)[-1])

    monkeypatch.setattr(LocalStorage, "write_bytes", record)
    pages = {"index.html": "i", "week.html": "w", **{f"agents/a{n}.html": str(n) for n in range(40)}}
    publish_report(pages, str(tmp_path), D)
    assert len(written) == 42 and written[-1] == "index.html"
    assert (tmp_path / f"audit_report/audit_date={D}/agents/a7.html").read_text() == "7"


def test_a_lost_worker_leaves_the_report_to_the_calling_process(v2_warehouse: Path, tmp_path: Path) -> None:
    """A worker killed mid-run (SIGKILL, as the kernel's OOM killer does) breaks the pool; the
    day's folder is then rendered in place, whole."""
    expected_url = publish_folder(_job(v2_warehouse, tmp_path / "in-place"))
    with rendering_pool(2):
        pool = workers._pool
        assert pool is not None
        pool.submit(os.getpid).result()  # start the workers
        for process in list(pool._processes.values()):  # type: ignore[attr-defined]
            os.kill(process.pid, signal.SIGKILL)
        url = publish_folder(_job(v2_warehouse, tmp_path / "after-loss"))
    assert url == expected_url.replace("in-place", "after-loss")
    assert _folder(tmp_path / "after-loss") == _folder(tmp_path / "in-place")
