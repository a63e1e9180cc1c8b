"""Where a backfill's audit days run: in the flow's own process, or on a Dask cluster.

Audit days are independent once the canonical store exists: each reads the store's windows
(pinned to one snapshot) and publishes its own partitions under its own lease. So a backfill
fans them out as Prefect tasks on a Dask cluster through `prefect-dask`'s `DaskTaskRunner`,
the integration data engineers already operate, instead of a pool of our own.

`--cluster` (setting `backfill_cluster`) names the cluster:

- `local` or `local:N`: a `distributed.LocalCluster` of N worker processes (default: one per
  core) on 127.0.0.1, started for the backfill and stopped after it;
- `tcp://host:8786` (or `tls://...`): the scheduler of a cluster someone runs (the compose
  file's, Kubernetes, Coiled). Its workers need the project installed (the worker image) and
  the same settings and pseudonym key in their environment.

Each worker is one process with one task at a time: an audit day is already parallel inside
Polars, so workers x Polars threads should match the cores. A local cluster sets
`POLARS_MAX_THREADS` to cores / workers in each worker; on a remote cluster set it in the
worker's environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

LOCAL = "local"
REMOTE_SCHEMES = ("tcp://", "tls://", "ucx://")


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed `--cluster` value: a local cluster of `workers`, or a scheduler `address`."""

    workers: int | None = None
    address: str | None = None

    def describe(self) -> str:
        if self.address:
            return f"the Dask cluster at {self.address}"
        return f"a local Dask cluster of {self.workers} worker(s)"


def parse_cluster(value: str, cores: int | None = None) -> ClusterSpec:
    """`local`, `local:N` or a scheduler address; ValueError with the accepted forms otherwise."""
    text = value.strip()
    if text.startswith(REMOTE_SCHEMES):
        return ClusterSpec(address=text)
    name, _, count = text.partition(":")
    if name != LOCAL:
        raise ValueError(f"--cluster {value!r}: expected local, local:N or tcp://host:port")
    if not count:
        return ClusterSpec(workers=max(1, cores or os.cpu_count() or 1))
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"--cluster {value!r}: N in local:N must be a whole number of workers, at least 1")
    return ClusterSpec(workers=int(count))


def polars_threads(workers: int, cores: int | None = None) -> int:
    """Polars threads per worker so that workers x threads matches the cores (at least 1)."""
    return max(1, (cores or os.cpu_count() or 1) // workers)


def task_runner(spec: ClusterSpec) -> Any:
    """The `DaskTaskRunner` for a cluster spec (imported here: only a distributed run needs Dask)."""
    from prefect_dask import DaskTaskRunner

    if spec.address:
        return DaskTaskRunner(address=spec.address)
    assert spec.workers is not None
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": spec.workers,
            "threads_per_worker": 1,  # one audit day per worker at a time
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": None,
            "env": {"POLARS_MAX_THREADS": str(polars_threads(spec.workers))},
        },
    )
