"""The `audit` command line. Each command is a thin wrapper over a function in flows/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from flows.sample_data.config import FORMATS

app = typer.Typer(
    help="support-audit: audit customer-support quality (follow-up, escalation, concessions, "
    "resolution) from ticket and call exports. Exit codes: 0 done, 1 run failed (e.g. validation), "
    "2 bad usage, 3 configuration (policy, settings, pseudonym key), "
    "4 storage unreachable or no credentials.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """support-audit command line."""
    import os

    # The ephemeral Prefect server started for local runs sends no usage telemetry.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def _formats(value: str) -> tuple[str, ...]:
    formats = tuple(f.strip() for f in value.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise typer.BadParameter(f"choose from {', '.join(FORMATS)}; got {value!r}")
    return formats


@app.command()
def generate(
    landing: str = typer.Option(
        None, help="Landing folder or s3://bucket/prefix (default: the settings' landing_uri)."
    ),
    end_date: str = typer.Option(
        None, metavar="YYYY-MM-DD", help="Last export day (UTC) (default: yesterday)."
    ),
    days: int = typer.Option(42, min=1, help="Number of export days ending at --end-date."),
    agents: int = typer.Option(20, min=1, help="Agents (before --scale)."),
    teams: int = typer.Option(4, min=1, help="Teams (before --scale)."),
    tickets_per_agent: float = typer.Option(12.0, min=0, help="New tickets per agent per weekday."),
    calls_per_agent: float = typer.Option(8.0, min=0, help="Inbound calls per agent per weekday."),
    scale: float = typer.Option(1.0, min=0.01, help="Multiplies agents and teams (volumes per agent stay)."),
    seed: int = typer.Option(7, help="Random seed: same seed and options give byte-identical files."),
    bad_row_share: float = typer.Option(
        0.02, min=0, max=0.49, help="Share of extra bad rows; 0 also disables the corrupt/re-sent files."
    ),
    formats: str = typer.Option(",".join(FORMATS), help="Comma-separated file formats to draw from."),
    max_files_per_day: int = typer.Option(3, min=1, help="Split each entity-day into up to N files."),
    config: Path = typer.Option(
        None, exists=True, dir_okay=False, help="Settings overlay TOML (S3 endpoint)."
    ),
) -> None:
    """Write realistic sample exports with planted behaviours (see docs/sample_data.md)."""
    from configs.settings import load_settings
    from flows.sample_data import GeneratorConfig, generate_exports

    end = _day(end_date, "--end-date")
    settings = load_settings(config_file=config)
    generator = GeneratorConfig(
        end_date=end or _yesterday(),
        days=days,
        agents=agents,
        teams=teams,
        tickets_per_agent_per_day=tickets_per_agent,
        calls_per_agent_per_day=calls_per_agent,
        scale=scale,
        seed=seed,
        bad_row_share=bad_row_share,
        formats=_formats(formats),
        max_files_per_day=max_files_per_day,
    )
    summary = generate_exports(landing or settings.landing_uri, generator, settings.s3)
    typer.echo(summary.text())


# --- audit runs -------------------------------------------------------------------------------

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_STORAGE = 0, 1, 2, 3, 4

Landing = typer.Option(None, help="Landing folder or s3://bucket/prefix (overrides the settings).")
Warehouse = typer.Option(None, help="Warehouse folder or s3://bucket/prefix for the Delta tables.")
Reports = typer.Option(None, help="Reports folder or s3://bucket/prefix for Data Docs and HTML reports.")
Config = typer.Option(None, help="Settings overlay TOML applied over configs/<env>.toml.")
PolicyFile = typer.Option(None, help="Audit policy TOML (default configs/policy.toml).")


def _fail(message: str, code: int) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _day(value: str | None, option: str) -> date | None:
    """Parse YYYY-MM-DD here, not in Click: a bad date is one line on stderr and exit 2."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)", EXIT_USAGE) from None


def _exit_code(exc: BaseException) -> int:
    """Map a run's exception to an exit code scripts can rely on (see `audit --help`)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from configs.policy import PolicyError
    from flows.secrets import MissingPseudonymKey

    if isinstance(exc, PolicyError | MissingPseudonymKey | FileNotFoundError | ValueError):
        return EXIT_CONFIG
    if isinstance(exc, NoCredentialsError | BotoCoreError | ClientError | ConnectionError):
        return EXIT_STORAGE
    return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found (environment, profile or instance role)"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach the S3 endpoint: {exc}"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _run_flow(func: Any, **kwargs: Any) -> Any:
    try:
        return func(**kwargs)
    except typer.Exit:
        raise
    except Exception as exc:
        raise _fail(_one_line(exc), _exit_code(exc)) from None


def _check_setup(**places: str | None) -> None:
    """Before any flow run, fail fast on what no retry fixes: settings, policy, the pseudonym
    key, and a landing store that does not answer (one list request)."""
    from flows.daily import resolve_run
    from flows.secrets import load_pseudonym_key
    from flows.storage import open_storage

    run = resolve_run(**places)
    load_pseudonym_key()
    open_storage(run.settings.landing_uri, run.settings.s3).folders("tickets")


def _places(
    landing: str | None, warehouse: str | None, reports: str | None, config: Path | None, policy: Path | None
) -> dict[str, str | None]:
    return {
        "landing": landing,
        "warehouse": warehouse,
        "reports": reports,
        "config": str(config) if config else None,
        "policy_file": str(policy) if policy else None,
    }


@app.command()
def run(
    date_: str = typer.Option(
        None, "--date", metavar="YYYY-MM-DD", help="Audit day (default: newest mature day)."
    ),
    landing: str = Landing,
    warehouse: str = Warehouse,
    reports: str = Reports,
    config: Path = Config,
    policy: Path = PolicyFile,
) -> None:
    """Run the daily audit for one day (a real Prefect flow run)."""
    from flows.daily import daily_audit

    audit_date = _day(date_, "--date")
    places = _places(landing, warehouse, reports, config, policy)
    _run_flow(_check_setup, **places)
    result = _run_flow(daily_audit, audit_date=audit_date, **places)
    typer.echo(f"audited {result['audit_date']}: report {result['report_url']}")


@app.command()
def backfill(
    start: str = typer.Option(..., metavar="YYYY-MM-DD", help="First audit day."),
    end: str = typer.Option(..., metavar="YYYY-MM-DD", help="Last audit day (inclusive)."),
    landing: str = Landing,
    warehouse: str = Warehouse,
    reports: str = Reports,
    config: Path = Config,
    policy: Path = PolicyFile,
) -> None:
    """Re-audit a range of days; each day replaces only its own partitions."""
    from flows.daily import backfill as backfill_flow

    first, last = _day(start, "--start"), _day(end, "--end")
    assert first is not None and last is not None  # required options
    if last < first:
        raise _fail(f"--end {last} is before --start {first}", EXIT_USAGE)
    places = _places(landing, warehouse, reports, config, policy)
    _run_flow(_check_setup, **places)
    results = _run_flow(backfill_flow, start=first, end=last, **places)
    typer.echo(f"audited {len(results)} day(s): {results[0]['audit_date']} .. {results[-1]['audit_date']}")


@app.command()
def serve(
    cron: str = typer.Option("30 6 * * *", help="Cron schedule for the daily audit."),
    time_zone: str = typer.Option("UTC", "--timezone", help="Time zone of the cron schedule."),
) -> None:
    """Serve the daily audit on a schedule from this host (flow.serve; Ctrl-C to stop)."""
    from prefect import serve as prefect_serve

    from flows.daily import served_daily_deployment

    prefect_serve(served_daily_deployment(cron, time_zone))


@app.command()
def quickstart(
    s3: bool = typer.Option(False, "--s3", help="Go through an embedded local S3 endpoint."),
) -> None:
    """Generate six weeks of sample exports, audit, publish tables, Data Docs and the report."""
    from flows.quickstart import run_quickstart

    typer.echo(_run_flow(run_quickstart, use_s3=s3))


def _register_report() -> None:
    from flows.report.cli import report

    app.command("report")(report)


_register_report()
