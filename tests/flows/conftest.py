"""Fixtures of the flow tests: generated exports (once per session) and one published run.

The published run is the default deployment run (`daily_audit()` without a date) against
the local S3 endpoint; several tests read what it left behind, so its ~40 s are paid once.
Environment variables are set only while a flow runs (and per test), never for the session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flow_fixtures import EXPORTS, AuditPlaces, FlowOutcome, audit_environment, landing_bucket

from devtools.s3_endpoint import endpoint_settings
from devtools.sample_data import generate_exports


@pytest.hookimpl(trylast=True)
@pytest.fixture(scope="session")
def flow_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small generated landing area, on local disk (copied into each test's bucket)."""
    root = tmp_path_factory.mktemp("flow-exports")
    generate_exports(str(root), EXPORTS)
    return root


@pytest.fixture
def audit_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> str:
    """This test's environment: local S3 endpoint, dummy credentials, pseudonym key."""
    audit_environment(monkeypatch, s3_endpoint)
    return s3_endpoint


@pytest.fixture
def fresh_places(audit_env: str, flow_exports: Path) -> AuditPlaces:
    """A new bucket holding the exports under landing/, nothing else."""
    return landing_bucket(audit_env, endpoint_settings(audit_env), flow_exports)


@pytest.fixture(scope="session")
def published_run(
    prefect_harness: None, s3_endpoint: str, flow_exports: Path, tmp_path_factory: pytest.TempPathFactory
) -> FlowOutcome:
    """The scheduled deployment's run: no date, so it ingests every export into the canonical
    store once, then audits the newest mature day and the final day from the store.

    Its first ingest attempt drops the connection (a transient I/O failure, injected here):
    Prefect retries the ingest task and the run goes on. One run serves both the scheduled-run
    tests and the transient-failure tests (test_flow_failures.py), instead of a second full
    ingest and audit on S3; `ingest_attempts` records each call of the ingest.

    Its scratch files (Data Docs being built) go to a work folder of its own (`AUDIT_WORK_DIR`).
    """
    import flows.daily as daily

    work_dir = tmp_path_factory.mktemp("flow-work")
    attempts: list[str] = []
    real_ingest = daily.ingest_exports

    def drops_once(*args: Any, **kwargs: Any) -> Any:
        attempts.append("called")
        if len(attempts) == 1:
            raise ConnectionError("connection reset by peer (injected by the test)")
        return real_ingest(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        audit_environment(mp, s3_endpoint)
        mp.setenv("AUDIT_WORK_DIR", str(work_dir))
        places = landing_bucket(s3_endpoint, endpoint_settings(s3_endpoint), flow_exports)
        mp.setattr(daily, "ingest_exports", drops_once)
        # Keep the task's retries but wait 0 s between them (the backoff is not under test).
        mp.setattr(daily, "ingest_new_exports", daily.ingest_new_exports.with_options(retry_delay_seconds=0))
        state = daily.daily_audit(**places.flow_kwargs(), return_state=True)
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return FlowOutcome(places, state, flow_run_id, work_dir, tuple(attempts))


@pytest.fixture(scope="session")
def quickstart_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The quickstart on the flow tests' sample, run once: its folder and the summary it printed.
    Its week (2026-03-06 .. 03-12) is a serial backfill, which the cluster test compares with."""
    from flow_fixtures import PSEUDONYM_KEY

    from devtools.quickstart import run_quickstart

    root = tmp_path_factory.mktemp("quickstart") / "qs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
        text = run_quickstart(root=root, sample=EXPORTS)
    return root, text
