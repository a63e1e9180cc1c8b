"""The `audit` command line. Each command is a thin wrapper over a function in flows/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="support-audit: audit customer-support quality (follow-up, escalation, concessions, "
    "resolution) from ticket and call exports. Exit codes: 0 done, 1 run failed (e.g. validation), "
    "2 bad usage, 3 configuration (policy, settings, pseudonym key), "
    "4 storage unreachable or refusing (after retries) or no credentials, "
    "5 no input (no exports to audit, or too old), "
    "6 another run is writing the same day or store.",
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


# --- audit runs -------------------------------------------------------------------------------

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_STORAGE, EXIT_NO_INPUT, EXIT_BUSY = 0, 1, 2, 3, 4, 5, 6

Landing = typer.Option(None, help="Landing folder or s3://bucket/prefix (overrides the settings).")
Warehouse = typer.Option(None, help="Warehouse folder or s3://bucket/prefix for the Delta tables.")
Reports = typer.Option(None, help="Reports folder or s3://bucket/prefix for Data Docs and HTML reports.")
Config = typer.Option(None, help="Settings overlay TOML applied over configs/<env>.toml.")
PolicyFile = typer.Option(None, help="Audit policy TOML (default configs/policy.toml).")
Ingest = typer.Option(
    True, "--ingest/--no-ingest", help="Ingest new exports first (default) or audit the store as it is."
)


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
    from flows.errors import NoInput
    from flows.preflight import StoreNotWritable
    from ingestion.incremental import LandingEmptied
    from warehouse.lock import LeaseLost, LockHeld
    from warehouse.secrets import MissingPseudonymKey

    if isinstance(exc, NoInput | LandingEmptied):
        return EXIT_NO_INPUT
    if isinstance(exc, LockHeld | LeaseLost):
        return EXIT_BUSY
    if isinstance(exc, StoreNotWritable):
        return EXIT_STORAGE
    if isinstance(exc, PolicyError | MissingPseudonymKey | FileNotFoundError | ValueError):
        return EXIT_CONFIG
    # delta-rs and Polars raise OSError for a store that does not answer or keeps refusing
    # (connection reset, 503 SlowDown, 500 after their retries): the same outage, one code.
    if isinstance(exc, NoCredentialsError | BotoCoreError | ClientError | OSError):
        return EXIT_STORAGE
    return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found (environment, profile or instance role)"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach the S3 endpoint: {exc}"
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0]
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError) and _STORE_ERROR in text:
        return (
            f"the store did not answer or kept refusing ({_shortened(first)}): run again when it "
            "answers; a publish it cut short is undone by the next run of the day or by `audit repair`"
        )
    return first


_STORE_ERROR = "S3 error"  # object_store's wording (delta-rs, Polars): "Generic S3 error: ..."


def _shortened(text: str, limit: int = 240) -> str:
    """An object-store message names the request, its retries and the store's XML answer: keep
    its start, which says what was asked of which object."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _run_flow(func: Any, **kwargs: Any) -> Any:
    try:
        return func(**kwargs)
    except typer.Exit:
        raise
    except Exception as exc:
        raise _fail(_one_line(exc), _exit_code(exc)) from None


def _check_setup(**places: str | None) -> None:
    """Before any flow run, fail fast on what no retry fixes: settings, policy, and what
    `flows.preflight.check_setup` checks (the flow checks it again: deployments start there)."""
    from flows.daily import resolve_run
    from flows.preflight import check_setup

    check_setup(resolve_run(**places).settings)


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
    ingest: bool = Ingest,
) -> None:
    """Ingest new exports, then audit one day (a real Prefect flow run); without --date, the
    scheduled days (the newest mature day and the day whose windows just closed)."""
    from flows.daily import daily_audit

    audit_date = _day(date_, "--date")
    places = _places(landing, warehouse, reports, config, policy)
    _run_flow(_check_setup, **places)
    result = _run_flow(daily_audit, audit_date=audit_date, ingest=ingest, **places)
    _echo_reaudit(result.get("ingest"))
    for day in result.get("days") or [result]:  # the scheduled run audits two days
        typer.echo(f"audited {day['audit_date']}: report {day['report_url']}")


@app.command()
def backfill(
    start: str = typer.Option(..., metavar="YYYY-MM-DD", help="First audit day."),
    end: str = typer.Option(..., metavar="YYYY-MM-DD", help="Last audit day (inclusive)."),
    landing: str = Landing,
    warehouse: str = Warehouse,
    reports: str = Reports,
    config: Path = Config,
    policy: Path = PolicyFile,
    ingest: bool = Ingest,
    cluster: str = typer.Option(
        None,
        metavar="local[:N] | tcp://HOST:PORT",
        help="Run the days as tasks on a Dask cluster: a local one of N workers (default: one "
        "per core), or a running scheduler. Default: the setting backfill_cluster, else in this process.",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Do not audit again a day already published from the same store snapshot, settings, "
        "policy, code and pseudonym key (only render its report): a killed backfill goes on where it "
        "stopped.",
    ),
) -> None:
    """Ingest new exports once, then re-audit a range of days from the canonical store; each
    day replaces only its own partitions."""
    from flows.cluster import parse_cluster
    from flows.daily import backfill as backfill_flow

    first, last = _day(start, "--start"), _day(end, "--end")
    assert first is not None and last is not None  # required options
    if last < first:
        raise _fail(f"--end {last} is before --start {first}", EXIT_USAGE)
    if cluster:
        try:
            parse_cluster(cluster)
        except ValueError as exc:
            raise _fail(str(exc), EXIT_USAGE) from exc
    places = _places(landing, warehouse, reports, config, policy)
    _run_flow(_check_setup, **places)
    results = _run_flow(
        backfill_flow, start=first, end=last, ingest=ingest, cluster=cluster, resume=resume, **places
    )
    _echo_reaudit(next((r["ingest"] for r in results if r.get("ingest")), None))
    kept = sum(1 for r in results if r.get("up_to_date"))
    typer.echo(
        f"audited {len(results) - kept} day(s) of {results[0]['audit_date']} .. {results[-1]['audit_date']}"
        + (f"; {kept} already up to date (reported, not audited again)" if kept else "")
    )


@app.command()
def ingest(
    landing: str = Landing,
    warehouse: str = Warehouse,
    reports: str = Reports,
    config: Path = Config,
    policy: Path = PolicyFile,
) -> None:
    """Read the export objects the ingest ledger does not have into the canonical store
    (validated once); objects gone from the landing leave it. Audits nothing."""
    from flows.daily import ingest_flow

    places = _places(landing, warehouse, reports, config, policy)
    _run_flow(_check_setup, **places)
    result = _run_flow(ingest_flow, **places)
    _echo_ingest(result)


@app.command("rebuild-store")
def rebuild_store(
    landing: str = Landing,
    warehouse: str = Warehouse,
    reports: str = Reports,
    config: Path = Config,
    policy: Path = PolicyFile,
) -> None:
    """Empty the canonical store and its ledger and read every export object again: the same
    store as the incremental path (the tables' history keeps the old versions)."""
    from flows.daily import ingest_flow

    places = _places(landing, warehouse, reports, config, policy)
    _run_flow(_check_setup, **places)
    result = _run_flow(ingest_flow, rebuild_store=True, **places)
    _echo_ingest(result)


@app.command()
def repair(
    date_: str = typer.Option(
        None, "--date", metavar="YYYY-MM-DD", help="Audit day to repair (default: every day in the manifest)."
    ),
    warehouse: str = Warehouse,
    config: Path = Config,
) -> None:
    """Put every audit table of a day back to its last published run after a killed or
    interrupted run, and mark the unfinished attempt rolled_back (each run does this for its
    own day first; docs/auditing.md)."""
    import uuid

    from configs.settings import load_settings
    from warehouse.lock import hold
    from warehouse.publication import day_scope, manifest_rows, repair_day

    day = _day(date_, "--date")
    settings = _run_flow(load_settings, config_file=str(config) if config else None, warehouse_uri=warehouse)
    recorded = manifest_rows(settings.warehouse_uri, settings.s3, columns=("audit_date",))["audit_date"]
    days = [day] if day else sorted(set(recorded))
    run_id = f"repair-{uuid.uuid4()}"

    def one(audit_date: Any) -> str:
        with hold(settings.warehouse_uri, day_scope(audit_date), run_id, s3=settings.s3) as lease:
            return repair_day(
                settings.warehouse_uri, audit_date, run_id=run_id, s3=settings.s3, before_commit=lease.check
            ).describe()

    for audit_date in days:
        typer.echo(_run_flow(one, audit_date=audit_date))


def _echo_ingest(result: dict[str, Any]) -> None:
    typer.echo(
        f"ingested {result['objects_read']} object(s) (new or changed), {result['objects_deleted']} "
        f"deleted, {result['objects_unchanged']} unchanged; newest export day "
        f"{result['newest_export_date'] or 'none'}"
    )
    _echo_reaudit(result)


def _echo_reaudit(result: dict[str, Any] | None) -> None:
    """What an ingest leaves for the user to act on: folders it cannot read, days to re-audit."""
    for key in (result or {}).get("not_read") or []:
        typer.secho(
            f"not read: {key} has no export day (export_date=YYYY-MM-DD)", err=True, fg=typer.colors.YELLOW
        )
    days = (result or {}).get("days_to_reaudit") or []
    if days:
        typer.secho(
            f"late, changed or deleted exports can change published day(s) {', '.join(days)}: "
            f"re-audit with `audit backfill --start {days[0]} --end {days[-1]}`",
            err=True,
            fg=typer.colors.YELLOW,
        )


@app.command()
def serve(
    cron: str = typer.Option("30 6 * * *", help="Cron schedule for the daily audit."),
    time_zone: str = typer.Option("UTC", "--timezone", help="Time zone of the cron schedule."),
) -> None:
    """Serve the daily audit on a schedule from this host (flow.serve; Ctrl-C to stop), as the
    deployment support-audit-daily-served; settings, policy, key and landing are checked first."""
    from prefect import serve as prefect_serve

    from flows.daily import WAREHOUSE_CONCURRENCY, ensure_warehouse_concurrency_limit, served_daily_deployment

    _run_flow(_check_setup)
    if _run_flow(ensure_warehouse_concurrency_limit):
        typer.echo(f"created the Prefect global concurrency limit {WAREHOUSE_CONCURRENCY} (limit 1)")
    prefect_serve(served_daily_deployment(cron, time_zone))


def _register_report() -> None:
    from report.cli import report

    app.command("report")(report)


def _register_dev_commands() -> None:
    """`generate` and `quickstart` live in the development package (devtools/), which a checkout
    has and the wheel does not ship: an installed `audit` has only the production commands."""
    import importlib.util

    if importlib.util.find_spec("devtools") is None or __name__ == "__main__":
        return  # `python -m flows.cli`: registered on the imported module's app (below)
    from devtools.cli import generate, quickstart

    app.command()(generate)
    app.command()(quickstart)


_register_report()
_register_dev_commands()

if __name__ == "__main__":  # `python -m flows.cli`, where the `audit` script is not installed
    from flows.cli import app as audit_app  # the module devtools imports and registers on

    audit_app()
