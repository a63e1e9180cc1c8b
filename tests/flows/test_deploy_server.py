"""`prefect deploy --all` against a real `prefect server start` on loopback.

The server, the work-pool command and the deploy command are separate processes with their
own PREFECT_HOME (SQLite inside it); the deployments are then read back through the API.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from devtools.s3_endpoint import free_port

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("prefect-server")]

REPO = Path(__file__).resolve().parents[2]
WORK_POOL = "support-audit-process"
DAILY = "support-audit-daily/support-audit-daily"
BACKFILL = "support-audit-backfill/support-audit-backfill"
STARTUP_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class PrefectServer:
    api_url: str
    env: dict[str, str]


def _prefect_command() -> list[str]:
    script = Path(sys.executable).with_name("prefect")
    found = str(script) if script.exists() else shutil.which("prefect")
    if not found:
        pytest.fail("the prefect command is not installed beside this interpreter")
    return [found]


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _wait_healthy(process: subprocess.Popen[bytes], api_url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not _healthy(api_url):
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            tail = log.read()[-3000:].decode(errors="replace")
            pytest.fail(f"prefect server did not become healthy on {api_url}: {tail}")
        time.sleep(0.25)


def _stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the server's own process group (the CLI and its uvicorn child), then wait."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    return process.returncode


def _run(server: PrefectServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_prefect_command(), *args],
        cwd=REPO,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        {
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": api_url,
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home}/prefect.db",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_CLI_PROMPT": "false",
        }
    )
    command = [*_prefect_command(), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-services", "--no-ui", "--analytics-off"]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            _wait_healthy(process, api_url, log)
            yield PrefectServer(api_url, env)
        finally:
            _stop(process)


@pytest.fixture(scope="module")
def deployed(prefect_server: PrefectServer) -> dict[str, Any]:
    """Create the work pool, run `prefect --no-prompt deploy --all` from the repo root, read back."""
    from prefect.client.orchestration import SyncPrefectClient

    pool = _run(prefect_server, "work-pool", "create", WORK_POOL, "--type", "process")
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = _run(prefect_server, "--no-prompt", "deploy", "--all")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    with SyncPrefectClient(prefect_server.api_url) as client:
        return {
            "pool": client.read_work_pool(WORK_POOL),
            DAILY: client.read_deployment_by_name(DAILY),
            BACKFILL: client.read_deployment_by_name(BACKFILL),
        }


@pytest.mark.parametrize(
    ("name", "entrypoint"),
    [(DAILY, "flows/daily.py:daily_audit"), (BACKFILL, "flows/daily.py:backfill")],
)
def test_both_deployments_are_registered_on_the_process_pool(
    deployed: dict[str, Any], name: str, entrypoint: str
) -> None:
    deployment = deployed[name]
    assert deployment.entrypoint == entrypoint
    assert deployment.work_pool_name == WORK_POOL
    assert deployment.enforce_parameter_schema is True
    assert set(deployment.tags) == {"support-audit", "audit"}
    assert deployment.job_variables == {"env": {"AUDIT_ENV": "prod"}}


@pytest.mark.parametrize("name", [DAILY, BACKFILL])
def test_one_run_at_a_time_per_deployment(deployed: dict[str, Any], name: str) -> None:
    limit = deployed[name].global_concurrency_limit
    assert limit is not None
    assert limit.limit == 1
    assert deployed[name].concurrency_options.collision_strategy.value == "ENQUEUE"


def test_the_daily_deployment_runs_on_its_cron_schedule(deployed: dict[str, Any]) -> None:
    [schedule] = deployed[DAILY].schedules
    assert schedule.active is True
    assert schedule.schedule.cron == "30 6 * * *"
    assert schedule.schedule.timezone == "UTC"  # the policy's business time zone


def test_the_backfill_deployment_has_no_schedule(deployed: dict[str, Any]) -> None:
    assert deployed[BACKFILL].schedules == []


def test_parameter_schemas_come_from_the_flow_signatures(deployed: dict[str, Any]) -> None:
    daily = deployed[DAILY].parameter_openapi_schema
    assert daily.get("required", []) == []  # the scheduled run passes no parameters
    assert {"format": "date", "type": "string"} in daily["properties"]["audit_date"]["anyOf"]
    backfill = deployed[BACKFILL].parameter_openapi_schema
    assert backfill["required"] == ["start", "end"]
    assert backfill["properties"]["start"]["format"] == "date"
    resume = backfill["properties"]["resume"]  # `-p resume=true` goes on after a killed backfill
    assert (resume["type"], resume["default"]) == ("boolean", False)


def test_the_work_pool_is_a_process_pool(deployed: dict[str, Any]) -> None:
    assert deployed["pool"].type == "process"


def test_the_worker_runs_the_code_where_the_deploy_ran(deployed: dict[str, Any]) -> None:
    """No directory is written into prefect.yaml: a fixed one (/app, the image's) crashed every
    run of a process worker on a host without it. Prefect records where `prefect deploy` ran."""
    steps = deployed[DAILY].pull_steps
    assert steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO.resolve())}}]
