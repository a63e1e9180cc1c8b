"""Peak RSS and CPU of every process in a tree, sampled while it runs (psutil).

`getrusage(RUSAGE_CHILDREN)` gives only the largest descendant's peak, so a Dask backfill's
workers could not be told apart. A sampler thread walks the tree of the command it watches every
`interval` seconds and keeps, per process, its peak RSS and its last CPU times: the peak can miss
a spike shorter than the interval, which the report says.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil


@dataclass
class ProcessFigures:
    pid: int
    role: str
    peak_rss_gb: float = 0.0
    cpu_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "role": self.role,
            "peak_rss_gb": round(self.peak_rss_gb, 2),
            "cpu_seconds": round(self.cpu_seconds, 1),
            "wall_seconds": round(self.last_seen - self.started, 1),
        }


def role_of(process: psutil.Process) -> str:
    """A readable name: the `audit` command, a spawned worker (a `LocalCluster`'s Dask worker,
    whose nanny runs inside the `audit` process, or a report-rendering worker: both are started
    by multiprocessing's spawn), or the executable."""
    try:
        line = " ".join(process.cmdline())
    except psutil.Error:
        return "gone"
    if "multiprocessing.spawn" in line or "multiprocessing.forkserver" in line:
        return "worker (Dask or report)"
    if "/audit " in line or line.endswith("/audit"):
        return "audit (flow)"
    return line.split(" ", 1)[0].rsplit("/", 1)[-1][:40]


class TreeSampler:
    """Samples the tree under `root_pid` until stopped; `figures()` lists every process seen."""

    def __init__(self, root_pid: int, interval: float = 0.2) -> None:
        self._root = root_pid
        self._interval = interval
        self._seen: dict[int, ProcessFigures] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def _sample(self) -> None:
        try:
            root = psutil.Process(self._root)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        now = time.monotonic()
        for process in tree:
            try:
                with process.oneshot():
                    rss = process.memory_info().rss / 1024**3
                    cpu = process.cpu_times()
                    figures = self._seen.get(process.pid) or ProcessFigures(process.pid, role_of(process))
                    figures.peak_rss_gb = max(figures.peak_rss_gb, rss)
                    figures.cpu_seconds = cpu.user + cpu.system  # its own, not its children's
                    figures.last_seen = now
                    self._seen[process.pid] = figures
            except psutil.Error:
                continue

    def figures(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in sorted(self._seen.values(), key=lambda f: f.started)]


Sampled = tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]


def run_sampled(args: list[str], env: dict[str, str]) -> Sampled:
    """Run a command to completion with its process tree sampled; its result and every process's
    figures (the command itself first)."""
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeSampler(process.pid) as sampler:
        stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr), sampler.figures()
