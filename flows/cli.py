"""The `audit` command line. Each command is a thin wrapper over a function in flows/."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import typer

from flows.sample_data.config import FORMATS

app = typer.Typer(
    help="support-audit: audit customer-support quality (follow-up, escalation, concessions, "
    "resolution) from ticket and call exports.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """support-audit command line."""


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
    end_date: datetime = typer.Option(
        None, formats=["%Y-%m-%d"], help="Last export day (UTC) (default: yesterday)."
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

    settings = load_settings(config_file=config)
    generator = GeneratorConfig(
        end_date=end_date.date() if end_date else _yesterday(),
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
