"""`audit report`: the terminal view of a published audit day (registered on the `audit` app).

Register with `app.command("report")(report)`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from configs.settings import load_settings


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Period(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    rolling = "rolling"


PERIOD_KINDS = {"day": "day", "week": "week", "month": "month", "rolling": "rolling_28d"}


class Section(StrEnum):
    all = "all"
    scorecard = "scorecard"
    flags = "flags"


def report(
    date: Annotated[
        datetime | None,
        typer.Option("--date", "-d", formats=["%Y-%m-%d"], help="Audit day, YYYY-MM-DD (default: --to)."),
    ] = None,
    agent: Annotated[
        str | None, typer.Option(help="Only this agent (and the flags that concern them).")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Only this team's agents.")] = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table for people; json or csv for scripts.")
    ] = OutputFormat.table,
    section: Annotated[
        Section | None,
        typer.Option(help="What to print; default all (table, json) or scorecard (csv, one table)."),
    ] = None,
    warehouse: Annotated[str | None, typer.Option(help="Warehouse URI; default from the settings.")] = None,
    config: Annotated[Path | None, typer.Option(help="Extra settings TOML, applied over the env's.")] = None,
    env: Annotated[str | None, typer.Option(help="Settings environment (local, prod).")] = None,
    policy: Annotated[
        Path | None,
        typer.Option(help="Audit policy TOML whose min_volume marks low volume in --from/--to sums."),
    ] = None,
    html: Annotated[Path | None, typer.Option(help="Also write the day's HTML report to this file.")] = None,
    period: Annotated[
        Period,
        typer.Option(
            help="The scorecard of the day, or of the ISO week, month or rolling 28 days holding it."
        ),
    ] = Period.day,
    first: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="With --to: the scorecard summed over these days."),
    ] = None,
    last: Annotated[
        datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day of --from.")
    ] = None,
    wide: Annotated[
        bool,
        typer.Option(help="Table view: every metric and full evidence lists (default: fits 120 columns)."),
    ] = False,
) -> None:
    """Print an audit day's agent scorecard and concession flags from the published tables."""
    # Imported here, not at the top: every `audit` command registers this one at start-up.
    from report.build import build_report
    from report.terminal import ReportError, report_command

    if (first is None) != (last is None):
        raise typer.BadParameter("--from and --to go together")
    day = date or last
    if day is None:
        raise typer.BadParameter("give --date (or --from and --to)")
    settings = load_settings(
        env=env, config_file=config, warehouse_uri=warehouse, policy_path=str(policy) if policy else None
    )
    min_volume = settings.policy().min_volume
    audit_date = day.date()
    span = (first.date(), last.date()) if first is not None and last is not None else None
    try:
        report_command(
            audit_date,
            warehouse_uri=settings.warehouse_uri,
            agent=agent,
            team=team,
            fmt=format.value,
            section=section.value if section else None,
            s3=settings.s3,
            min_volume=min_volume,
            wide=wide,
            period=PERIOD_KINDS[period.value],
            span=span,
        )
    except ReportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if html is not None:
        page = build_report(
            settings.warehouse_uri, audit_date, s3=settings.s3, min_volume=min_volume, relative_links=False
        )
        html.write_text(page, encoding="utf-8")
        typer.echo(f"report written to {html}", err=True)
