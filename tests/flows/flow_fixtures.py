"""Helpers for the flow tests: small generated exports, buckets on the local S3 endpoint,
the environment a deployed run would have, and reads from the Prefect API."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from configs.settings import S3Settings
from devtools.s3_endpoint import DUMMY_CREDENTIALS, create_bucket
from devtools.sample_data import GeneratorConfig
from storage import S3Storage

# 8 agents (the generator's minimum), 2 teams, 16 export days, with bad rows, the corrupt
# file and the re-delivered file: every ingestion path, small enough for GX to be quick.
EXPORTS = GeneratorConfig(
    end_date=date(2026, 3, 16),
    days=16,
    agents=6,
    teams=2,
    tickets_per_agent_per_day=4.0,
    calls_per_agent_per_day=3.0,
    seed=11,
    bad_row_share=0.05,
    max_files_per_day=2,
)
NEWEST_EXPORT = EXPORTS.end_date
DEFAULT_DAY = date(2026, 3, 13)  # newest export - ceil(72 h / 24 h)
FINAL_DAY = date(2026, 3, 9)  # newest export - 7 days: its longest window has just closed
PSEUDONYM_KEY = "flow-tests-pseudonym-key-" + "0" * 24
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass(frozen=True)
class AuditPlaces:
    """Landing, warehouse and reports of one test, all in one bucket on the local endpoint."""

    bucket: str
    settings: S3Settings

    @property
    def landing(self) -> str:
        return f"s3://{self.bucket}/landing"

    @property
    def warehouse(self) -> str:
        return f"s3://{self.bucket}/warehouse"

    @property
    def reports(self) -> str:
        return f"s3://{self.bucket}/reports"

    def flow_kwargs(self) -> dict[str, str]:
        return {"landing": self.landing, "warehouse": self.warehouse, "reports": self.reports}

    def reports_storage(self) -> S3Storage:
        return S3Storage(self.reports, self.settings)


@dataclass(frozen=True)
class FlowOutcome:
    """A finished flow run: where it wrote, its final state, its id (the audit run id)."""

    places: AuditPlaces
    state: Any  # prefect.State
    flow_run_id: UUID
    work_dir: Path | None = None  # the run's AUDIT_WORK_DIR, when the test set one
    ingest_attempts: tuple[str, ...] = ()  # calls of the ingest, when the test counted them


def audit_environment(mp: pytest.MonkeyPatch, endpoint_url: str) -> None:
    """What a deployment's worker would have: S3 endpoint, client credentials, pseudonym key."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AUDIT_ENV", "AUDIT_LANDING_URI"):
        mp.delenv(name, raising=False)
    for name, value in DUMMY_CREDENTIALS.items():
        mp.setenv(name, value)
    mp.setenv("AUDIT_S3__ENDPOINT_URL", endpoint_url)
    mp.setenv("AUDIT_S3__MAX_ATTEMPTS", "2")
    mp.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)


def landing_bucket(endpoint_url: str, settings: S3Settings, exports: Path) -> AuditPlaces:
    """A fresh bucket whose `landing/` prefix holds a copy of the generated exports."""
    name = f"flow-{uuid.uuid4().hex[:20]}"
    create_bucket(endpoint_url, name)
    places = AuditPlaces(name, settings)
    landing = S3Storage(places.landing, settings)
    for path in sorted(p for p in exports.rglob("*") if p.is_file()):
        landing.write_bytes(path.relative_to(exports).as_posix(), path.read_bytes())
    return places


# --- Prefect API reads -----------------------------------------------------------------


def artifacts_of(flow_run_id: UUID) -> dict[str, Any]:
    """The flow run's artifacts by key."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {a.key: a for a in found if a.key}


def keyed_artifacts(key: str) -> list[Any]:
    """Every artifact ever created under `key` (one per flow run that created it), newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        keyed = ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        return list(client.read_artifacts(artifact_filter=keyed, sort=ArtifactSort.CREATED_DESC))


def settled_task_runs(flow_run_id: UUID, timeout_seconds: float = 120) -> list[Any]:
    """The flow run's task runs once every one is in a terminal state.

    Task run states reach the API through events, a moment after the flow returns.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + timeout_seconds
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            if runs and all(r.state_type is not None and r.state_type.value in TERMINAL for r in runs):
                return runs
            if time.monotonic() > deadline:
                states = {r.name: r.state_name for r in runs}
                raise AssertionError(f"task runs of {flow_run_id} did not settle: {states}")
            time.sleep(0.5)


def state_names(task_run_id: UUID) -> list[str]:
    """Every state the task run went through, in order."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        states = client.read_task_run_states(task_run_id)
    return [s.name or "" for s in sorted(states, key=lambda s: s.timestamp)]


def runs_named(task_runs: list[Any], task_name: str) -> list[Any]:
    """Task runs of one task (Prefect names them `<task>-<suffix>`)."""
    return [r for r in task_runs if r.name.rsplit("-", 1)[0] == task_name]
