"""The `audit` command line: help everywhere, one-line errors, exit codes scripts rely on.

0 done, 1 run failed, 2 bad usage, 3 configuration (settings, policy, pseudonym key),
4 storage unreachable or no credentials. Setup problems are found before a flow starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flow_fixtures import FINAL_DAY, PSEUDONYM_KEY, AuditPlaces
from typer.testing import CliRunner, Result

import flows.daily as daily
from devtools.s3_endpoint import DUMMY_CREDENTIALS, free_port
from flows.cli import app
from report.build import report_key

runner = CliRunner()

COMMANDS = (
    "generate",
    "run",
    "backfill",
    "ingest",
    "rebuild-store",
    "serve",
    "quickstart",
    "report",
    "repair",
)
PLACE_OPTIONS = ("--landing", "--warehouse", "--reports", "--config", "--policy")


def _one_error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("error: "), text
    return lines[0]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No AUDIT_* or AWS_* from the machine; no AWS profile files."""
    import os

    for name in list(os.environ):
        if name.startswith(("AUDIT_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture
def flow_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records whether the CLI started the flows (it must not when the setup is broken)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(daily, "daily_audit", lambda **kw: calls.append(kw))
    monkeypatch.setattr(daily, "backfill", lambda **kw: calls.append(kw))
    return calls


# --- help ------------------------------------------------------------------------------


def test_audit_help_lists_every_command_and_the_exit_codes() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in COMMANDS:
        assert command in result.output
    for code in ("0 done", "1 run failed", "2 bad usage", "3 configuration", "4 storage"):
        assert code in " ".join(result.output.split())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"audit {command}" in result.output or "Usage" in result.output


@pytest.mark.parametrize("command", ["run", "backfill", "ingest", "rebuild-store"])
def test_run_and_backfill_accept_the_place_options(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    for option in PLACE_OPTIONS:
        assert option in result.output, option


# --- bad usage: exit 2, one line -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["run", "--date", "bad-date"], "--date"),
        (["run", "--date", "2026-02-30"], "--date"),
        (["run", "--date", "13/03/2026"], "--date"),
        (["backfill", "--start", "2026-03-01", "--end", "tomorrow"], "--end"),
        (["backfill", "--start", "2026-3-x", "--end", "2026-03-02"], "--start"),
        (["generate", "--end-date", "yesterday"], "--end-date"),
    ],
)
def test_a_bad_date_is_one_line_and_exit_2(
    args: list[str], option: str, flow_calls: list[dict[str, Any]]
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    line = _one_error_line(result.stderr)
    assert option in line
    assert "YYYY-MM-DD" in line
    assert flow_calls == []


def test_backfill_end_before_start_is_exit_2(flow_calls: list[dict[str, Any]]) -> None:
    result = runner.invoke(app, ["backfill", "--start", "2026-03-02", "--end", "2026-03-01"])
    assert result.exit_code == 2
    assert "before --start" in _one_error_line(result.stderr)
    assert flow_calls == []


# --- configuration: exit 3 -------------------------------------------------------------


@pytest.mark.xdist_group("prefect")
def test_missing_pseudonym_key_is_exit_3_before_any_flow_run(
    prefect_harness: None, clean_env: pytest.MonkeyPatch, tmp_path: Path, flow_calls: list[dict[str, Any]]
) -> None:
    result = runner.invoke(app, ["run", "--date", "2026-03-13", "--landing", str(tmp_path)])
    assert result.exit_code == 3
    line = _one_error_line(result.stderr)
    assert "AUDIT_PSEUDONYM_KEY" in line
    assert flow_calls == []


@pytest.mark.parametrize("option", ["--config", "--policy"])
def test_a_missing_settings_or_policy_file_is_exit_3(
    option: str, clean_env: pytest.MonkeyPatch, tmp_path: Path, flow_calls: list[dict[str, Any]]
) -> None:
    clean_env.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    missing = tmp_path / "missing.toml"
    result = runner.invoke(app, ["run", "--landing", str(tmp_path), option, str(missing)])
    assert result.exit_code == 3
    assert "missing.toml" in _one_error_line(result.stderr)
    assert flow_calls == []


# --- storage: exit 4 -------------------------------------------------------------------


def test_an_unreachable_s3_endpoint_is_exit_4_before_any_flow_run(
    clean_env: pytest.MonkeyPatch, flow_calls: list[dict[str, Any]]
) -> None:
    for name, value in DUMMY_CREDENTIALS.items():
        clean_env.setenv(name, value)
    closed = free_port()  # bound and released: nothing listens there
    clean_env.setenv("AUDIT_S3__ENDPOINT_URL", f"http://127.0.0.1:{closed}")
    clean_env.setenv("AUDIT_S3__MAX_ATTEMPTS", "1")
    clean_env.setenv("AUDIT_S3__CONNECT_TIMEOUT_SECONDS", "1")
    clean_env.setenv("AUDIT_S3__READ_TIMEOUT_SECONDS", "1")
    clean_env.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    result = runner.invoke(app, ["run", "--landing", "s3://landing-bucket/exports"])
    assert result.exit_code == 4
    line = _one_error_line(result.stderr)
    assert "cannot reach the S3 endpoint" in line
    assert f"127.0.0.1:{closed}" in line
    assert flow_calls == []


def test_no_aws_credentials_is_exit_4(
    clean_env: pytest.MonkeyPatch, s3_endpoint: str, flow_calls: list[dict[str, Any]]
) -> None:
    import boto3

    clean_env.setattr(boto3, "DEFAULT_SESSION", None)  # a fresh process resolves credentials anew
    clean_env.setenv("AUDIT_S3__ENDPOINT_URL", s3_endpoint)
    clean_env.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    result = runner.invoke(app, ["run", "--landing", "s3://landing-bucket/exports"])
    assert result.exit_code == 4
    assert "no AWS credentials" in _one_error_line(result.stderr)
    assert flow_calls == []


def test_a_missing_bucket_is_exit_4(
    clean_env: pytest.MonkeyPatch, s3_endpoint: str, flow_calls: list[dict[str, Any]]
) -> None:
    for name, value in DUMMY_CREDENTIALS.items():
        clean_env.setenv(name, value)
    clean_env.setenv("AUDIT_S3__ENDPOINT_URL", s3_endpoint)
    clean_env.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    result = runner.invoke(
        app,
        [
            "backfill",
            "--start",
            "2026-03-01",
            "--end",
            "2026-03-02",
            "--landing",
            "s3://no-such-bucket-here/exports",
        ],
    )
    assert result.exit_code == 4
    assert "NoSuchBucket" in _one_error_line(result.stderr)
    assert flow_calls == []


# --- a run that fails: exit 1 ------------------------------------------------------------


@pytest.mark.xdist_group("prefect")
def test_a_failed_flow_run_is_exit_1_with_its_reason(
    prefect_harness: None, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the store is on fire")

    clean_env.setattr(daily, "ingest_exports", broken)
    places = ["--landing", str(tmp_path / "landing"), "--warehouse", str(tmp_path / "wh")]
    result = runner.invoke(app, ["run", *places, "--reports", str(tmp_path / "reports")])
    assert result.exit_code == 1
    assert "the store is on fire" in _one_error_line(result.stderr)


def test_an_unwritable_warehouse_is_exit_4_before_any_flow_run(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, flow_calls: list[dict[str, Any]]
) -> None:
    clean_env.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    (tmp_path / "landing").mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    places = ["--landing", str(tmp_path / "landing"), "--warehouse", str(blocker / "wh")]
    result = runner.invoke(app, ["run", *places, "--reports", str(tmp_path / "reports")])
    assert result.exit_code == 4
    assert f"cannot write to {blocker / 'wh'}" in _one_error_line(result.stderr)
    assert flow_calls == []


@pytest.mark.xdist_group("prefect")
def test_a_run_with_nothing_ingested_is_exit_5(
    prefect_harness: None, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    landing = tmp_path / "landing"
    places = [
        "--landing",
        str(landing),
        "--warehouse",
        str(tmp_path / "wh"),
        "--reports",
        str(tmp_path / "r"),
    ]
    result = runner.invoke(app, ["run", "--no-ingest", *places])
    assert result.exit_code == 5
    assert f"no exports found under {landing}" in _one_error_line(result.stderr)
    assert not (tmp_path / "wh" / "run_manifest").exists()  # nothing published
    assert sorted(p.name for p in (tmp_path / "wh").iterdir()) == ["_canonical", "_locks"]  # the write checks


# --- a run that succeeds: exit 0 ---------------------------------------------------------


@dataclass(frozen=True)
class IngestedOnS3:
    """A bucket whose exports the `ingest` commands brought into the store, and what each printed."""

    places: AuditPlaces
    first: Result  # `ingest` on the new landing
    again: Result  # `ingest` with nothing new
    wrong: Result  # `ingest` of an empty prefix (a typo)
    rebuilt: Result  # `rebuild-store`
    landing_typo: str


@pytest.fixture(scope="module")
def ingested_on_s3(prefect_harness: None, s3_endpoint: str, flow_exports: Path) -> IngestedOnS3:
    """The ingest commands on a fresh bucket, once for this module: the ingest test checks what
    they printed, and the run test audits a day from the store they left (its own ingest then
    reads nothing new), instead of a second full ingest of the exports on S3."""
    from flow_fixtures import audit_environment, landing_bucket

    from devtools.s3_endpoint import endpoint_settings

    with pytest.MonkeyPatch.context() as mp:
        audit_environment(mp, s3_endpoint)
        fresh = landing_bucket(s3_endpoint, endpoint_settings(s3_endpoint), flow_exports)
        places = ["--landing", fresh.landing, "--warehouse", fresh.warehouse, "--reports", fresh.reports]
        first = runner.invoke(app, ["ingest", *places])
        again = runner.invoke(app, ["ingest", *places])
        typo = f"{fresh.landing}-typo"  # an empty prefix
        wrong = runner.invoke(app, ["ingest", "--landing", typo, *places[2:]])
        rebuilt = runner.invoke(app, ["rebuild-store", *places])
    return IngestedOnS3(fresh, first, again, wrong, rebuilt, typo)


@pytest.mark.integration
@pytest.mark.xdist_group("prefect")
def test_a_run_on_s3_is_exit_0_and_no_input_never_replaces_the_published_day(
    ingested_on_s3: IngestedOnS3, audit_env: str, tmp_path: Path
) -> None:
    from warehouse.delta import table_history
    from warehouse.publication import read_published

    fresh_places = ingested_on_s3.places
    elsewhere = ["--warehouse", fresh_places.warehouse, "--reports", fresh_places.reports]
    args = ["run", "--date", FINAL_DAY.isoformat(), "--landing", fresh_places.landing, *elsewhere]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = f"{fresh_places.reports}/{report_key(FINAL_DAY)}"
    assert result.stdout == f"audited {FINAL_DAY.isoformat()}: report {report}\n"
    assert fresh_places.reports_storage().exists(report_key(FINAL_DAY))

    s3 = fresh_places.settings
    published = read_published(fresh_places.warehouse, "agent_scorecard", s3, FINAL_DAY)
    versions = table_history(fresh_places.warehouse, "agent_scorecard", s3)["version"].to_list()
    assert published is not None and published.height > 0
    (tmp_path / "empty").mkdir()
    for landing in (f"{fresh_places.landing}-typo", str(tmp_path / "missing"), str(tmp_path / "empty")):
        refused = runner.invoke(
            app, ["run", "--date", FINAL_DAY.isoformat(), "--landing", landing, *elsewhere]
        )
        assert refused.exit_code == 5, refused.output  # no input
        assert f"the landing {landing} lists no export objects" in _one_error_line(refused.stderr)
    no_day = ["run", "--date", "2020-01-01", "--no-ingest", "--landing", fresh_places.landing, *elsewhere]
    refused = runner.invoke(app, no_day)
    assert refused.exit_code == 5, refused.output
    assert "no export objects for 2020-01-01 in the store" in _one_error_line(refused.stderr)
    # The published day is untouched: same versions, same rows.
    assert table_history(fresh_places.warehouse, "agent_scorecard", s3)["version"].to_list() == versions
    again = read_published(fresh_places.warehouse, "agent_scorecard", s3, FINAL_DAY)
    assert again is not None and again.equals(published)


@pytest.mark.integration
@pytest.mark.xdist_group("prefect")
def test_ingest_reads_each_object_once_refuses_an_empty_landing_and_rebuild_store_reads_all_again(
    ingested_on_s3: IngestedOnS3,
) -> None:
    first, again = ingested_on_s3.first, ingested_on_s3.again
    assert first.exit_code == 0, first.output
    read = int(first.stdout.split("ingested ")[1].split(" ")[0])
    assert read > 0 and "0 deleted, 0 unchanged" in first.stdout
    assert again.exit_code == 0, again.output
    assert f"ingested 0 object(s) (new or changed), 0 deleted, {read} unchanged" in again.stdout
    refused = ingested_on_s3.wrong
    assert refused.exit_code == 5, refused.output  # no input
    assert f"{ingested_on_s3.landing_typo} lists no export objects" in refused.output
    assert "-typo lists no export objects" in refused.output
    rebuilt = ingested_on_s3.rebuilt
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"ingested {read} object(s) (new or changed), 0 deleted, 0 unchanged" in rebuilt.stdout


def test_the_command_line_starts_without_importing_scipy_or_the_report_renderer() -> None:
    """scipy.stats takes about 1 s to import (half of `audit --help`, 2.3 s -> 1.3 s): only
    the concession tests need it, so it is imported where they run, not at start-up. The HTML
    renderer (Jinja, vl-convert: 0.2 s) is loaded by the run's report step or `audit report`;
    numpy (0.1 s) by the concession test and the ingest's line scan; the sample-data
    generator (0.3 s with numpy) only by `audit generate` and `audit quickstart`."""
    import subprocess
    import sys

    heavy = (
        "('scipy', 'jinja2', 'vl_convert', 'great_expectations', 'report.build', 'report.render',"
        " 'numpy', 'devtools.sample_data.generate')"
    )
    code = (
        "import sys, flows.cli, flows.daily; "
        f"print(sorted(m for m in sys.modules if m in {heavy} or m.split('.')[0] in {heavy}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_python_dash_m_flows_cli_is_the_audit_command() -> None:
    """Where the `audit` script is not installed, `python -m flows.cli` runs the same command,
    development commands included (an outside probe found it failing on a circular import)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for command in COMMANDS:
        assert command in done.stdout


@pytest.mark.parametrize(
    "exc",
    [
        OSError(
            "Kernel error -> Generic S3 error\n  Error performing GET http://127.0.0.1:9/b/wh/_delta_log/x "
            "after 8 retries: 503 Service Unavailable: <Error><Code>SlowDown</Code></Error>"
        ),
        ConnectionResetError("object-store error: Generic S3 error: connection reset by peer"),
    ],
)
def test_a_store_that_keeps_refusing_is_exit_4_with_what_to_do(exc: OSError) -> None:
    """A 503 or 500 after the libraries' retries (OSError) and a reset connection are one
    outage: exit 4, not 1 ("run failed, e.g. validation"), and the line says what to do."""
    from flows.cli import _exit_code, _one_line

    assert _exit_code(exc) == 4
    line = _one_line(exc)
    assert line.startswith("the store did not answer or kept refusing (")
    assert "run again when it answers" in line and "audit repair" in line and len(line) < 400
    assert _exit_code(RuntimeError("validation failed")) == 1
    assert _exit_code(FileNotFoundError("policy.toml")) == 3


@pytest.mark.parametrize("resume", [False, True])
def test_backfill_passes_resume_and_says_how_many_days_were_up_to_date(
    resume: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.cli as cli

    calls: list[dict[str, Any]] = []
    audited = {"audit_date": "2026-03-03", "run_id": "r2", "ingest": None}
    kept = [{"audit_date": d, "up_to_date": True, "run_id": "r1"} for d in ("2026-03-01", "2026-03-02")]

    def backfill(**kw: Any) -> list[dict[str, Any]]:
        calls.append(kw)
        return [*kept, audited] if kw["resume"] else [{**r, "up_to_date": None} for r in [*kept, audited]]

    monkeypatch.setattr(cli, "_check_setup", lambda **places: None)
    monkeypatch.setattr(daily, "backfill", backfill)
    args = ["backfill", "--start", "2026-03-01", "--end", "2026-03-03", *(["--resume"] if resume else [])]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert calls[0]["resume"] is resume
    if resume:
        assert "audited 1 day(s) of 2026-03-01 .. 2026-03-03; 2 already up to date" in result.output
    else:
        assert "audited 3 day(s) of 2026-03-01 .. 2026-03-03\n" in result.output
